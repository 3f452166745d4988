namespace VirtualKeys.Registry.Tests;

/// <summary>
/// Tests that point <c>TMPDIR</c> elsewhere for a moment run alone, after the others: the variable is
/// the whole process's, and a test beside them would make its temp files there.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TempDirectoryCollection
{
    public const string Name = "Tests that change TMPDIR, run alone";
}
