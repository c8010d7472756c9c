using BenchmarkDotNet.Running;

// Examples (from the repository root):
//   dotnet run -c Release --project bench/CMap.Benchmarks -- --filter '*CoreOpsBenchmarks*' --job short
//   dotnet run -c Release --project bench/CMap.Benchmarks -- --filter '*CoreOpsBenchmarks*' --anyCategories Get_Hit Get_Miss
//   dotnet run -c Release --project bench/CMap.Benchmarks -- --filter '*MixedWorkloadBenchmarks*' --job short
// MixedWorkloadBenchmarks reads CMAP_BENCH_THREADS (e.g. "1,2,4,8"), CMAP_BENCH_SHAPES (e.g. "1000x100,1000000x16")
// and CMAP_BENCH_LARGE=1 (adds 10M entries).
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
