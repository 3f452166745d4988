namespace VirtualKeys.LocalPostgres;

/// <summary>
/// The real path of a file or directory: absolute, with every symbolic link in it resolved, as the
/// kernel shows a working directory in <c>/proc/[pid]/cwd</c> (what <c>realpath(3)</c> returns).
/// </summary>
internal static class RealPath
{
    // As many links as Linux follows in one path before it gives up with ELOOP.
    private const int MaxLinks = 40;

    public static string Of(string path)
    {
        // The current directory is a real path already; ".." is only applied to a real path, where
        // taking the parent is right (after a link it would not be).
        var resolved = "/";
        var pending = new Stack<string>();
        Push(pending, Path.IsPathRooted(path) ? path : Path.Join(Environment.CurrentDirectory, path));
        var links = 0;
        while (pending.TryPop(out var name))
        {
            if (name == ".")
            {
                continue;
            }

            if (name == "..")
            {
                resolved = Path.GetDirectoryName(resolved) ?? "/";
                continue;
            }

            var next = Path.Join(resolved, name);
            var target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                resolved = next;
                continue;
            }

            if (++links > MaxLinks)
            {
                throw new IOException($"Too many symbolic links in {path}.");
            }

            // A relative target is relative to the link's directory, which is where the walk stands.
            if (Path.IsPathRooted(target))
            {
                resolved = "/";
            }

            Push(pending, target);
        }

        return resolved;
    }

    /// <summary>Puts the names in <paramref name="path"/> on the stack so the first one comes off first.</summary>
    private static void Push(Stack<string> pending, string path)
    {
        var names = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = names.Length - 1; i >= 0; i--)
        {
            pending.Push(names[i]);
        }
    }
}
