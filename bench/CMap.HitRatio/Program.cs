using System;
using Spectre.Console;

namespace CMap.HitRatio;

// Examples (from the repository root):
//   dotnet run -c Release --project bench/CMap.HitRatio                      (the full default matrix)
//   dotnet run -c Release --project bench/CMap.HitRatio -- --quick           (smoke test, about a minute)
//   dotnet run -c Release --project bench/CMap.HitRatio -- --traces zipf-0.9 --sizes 5 --caches cmap,lru
internal static class Program
{
    private const int RedirectedWidth = 240;

    private static int Main(string[] args)
    {
        if (Console.IsOutputRedirected)
        {
            // A log file (nohup, CI) gets the whole table instead of columns wrapped to 80 characters.
            AnsiConsole.Profile.Width = RedirectedWidth;
        }

        return HitRatioCommand.Create(Matrix.Run).Parse(args).Invoke();
    }
}
