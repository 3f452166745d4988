using VirtualKeys.Testing.Postgres;

[assembly: AssemblyFixture(typeof(PostgresFixture))]
