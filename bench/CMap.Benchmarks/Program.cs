using BenchmarkDotNet.Running;

// Examples (from the repository root):
//   dotnet run -c Release --project bench/CMap.Benchmarks -- --filter '*CoreOpsBenchmarks*' --job short
//   dotnet run -c Release --project bench/CMap.Benchmarks -- --filter '*CoreOpsBenchmarks.CMap' '*CoreOpsBenchmarks.ConcurrentDictionary' --job short
//   CMAP_BENCH_OPS=GetHit,GetMiss CMAP_BENCH_ENTRIES=1000 dotnet run -c Release --project bench/CMap.Benchmarks -- --filter '*CoreOpsBenchmarks*' --job short
//   dotnet run -c Release --project bench/CMap.Benchmarks -- --filter '*MixedWorkloadBenchmarks*' --job short
//   dotnet run -c Release --project bench/CMap.Benchmarks -- --filter '*FeatureCostBenchmarks*' '*ClockBenchmarks*' --job short
// CoreOpsBenchmarks reads CMAP_BENCH_OPS (operations, e.g. "GetHit,InsertOverwrite") and CMAP_BENCH_ENTRIES (e.g. "1000");
// FeatureCostBenchmarks reads CMAP_BENCH_ENTRIES too (its baseline is the map with the cache features off).
// MixedWorkloadBenchmarks reads CMAP_BENCH_THREADS (e.g. "1,2,4,8"), CMAP_BENCH_SHAPES (e.g. "1000x100,1000000x16")
// and CMAP_BENCH_LARGE=1 (adds 10M entries). The stores are bench/CMap.Bench.Shared/Stores; ConcurrentDictionary
// is the baseline (Ratio = 1.00) of every comparison.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
