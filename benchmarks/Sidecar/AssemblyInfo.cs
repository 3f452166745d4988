using System.Runtime.Versioning;

// The run drives Linux tools (wrk, nginx, setsid, runuser) and reads /proc.
[assembly: SupportedOSPlatform("linux")]
