using System;

namespace CMap.Compare;

internal static class Program
{
    private static int Main(string[] args)
    {
        CompareOptions options;
        try
        {
            options = CompareOptions.Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        if (options.ShowHelp)
        {
            Console.WriteLine(CompareOptions.HelpText);
            return 0;
        }

        return options.WorkerStore is null ? Coordinator.Run(options) : Worker.Run(options);
    }
}
