using System.Runtime.CompilerServices;

// Upgrade tests migrate a database to an older version first (RegistryMigrator.MigrateAsync(int, ...)).
[assembly: InternalsVisibleTo("VirtualKeys.Registry.Tests")]

namespace VirtualKeys.Registry;
