namespace CMap.Compare;

internal static class Program
{
    private static int Main(string[] args) =>
        CompareCommand.Create(options => options.WorkerStore is null ? Coordinator.Run(options) : Worker.Run(options))
            .Parse(args)
            .Invoke();
}
