using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

[assembly: AssemblyFixture(typeof(PostgresFixture))]
[assembly: AssemblyFixture(typeof(SecretLedger))]
