namespace VirtualKeys.Registry.Migrations;

/// <param name="StartVersion">The schema version found (0 for a fresh database).</param>
/// <param name="Version">The schema version now.</param>
/// <param name="Applied">The versions this run applied; empty when another process got there first.</param>
public sealed record MigrationResult(int StartVersion, int Version, IReadOnlyList<int> Applied);
