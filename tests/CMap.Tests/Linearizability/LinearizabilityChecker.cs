using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace CMap.Tests.Linearizability;

internal enum Verdict
{
    Linearizable,
    Illegal,

    /// <summary>The search ran out of its step budget: neither a pass nor a failure.</summary>
    Unknown,
}

/// <summary>
/// Wing–Gong linearizability search with Lowe's memoization (what Porcupine does), for one key's sub-history against
/// <see cref="RegisterModel"/>.
/// </summary>
/// <remarks>
/// <para>
/// The search builds a linearization one operation at a time. An operation may go next when every operation of its
/// own thread before it is placed (program order) and no unplaced operation returned before it was called (real-time
/// order: the minimal operations of the remaining history). Equal timestamps count as concurrent, so a tie never
/// produces a false alarm. A state of the search is the set of placed operations (a 64-bit mask: a key's
/// sub-history has at most 64 operations) and the set of register states the model may be in; a state already
/// explored and found to lead nowhere is never explored again (Lowe's cache), which makes the search polynomial in
/// practice on these short histories.
/// </para>
/// <para>
/// Each explored state costs one step of a budget; a search that exhausts it returns <see cref="Verdict.Unknown"/>,
/// which the tests count apart and never as a pass.
/// </para>
/// </remarks>
internal sealed class LinearizabilityChecker
{
    private readonly HashSet<(ulong Placed, int States)> _dead = [];
    private Op[] _ops = [];
    private int[] _predecessor = [];
    private bool _lossy;
    private long _steps;
    private long _budget;
    private bool _exhausted;
    private ulong _deepest;
    private int _deepestCount;

    public LinearizabilityChecker(long stepBudget) => StepBudget = stepBudget;

    public long StepBudget { get; }

    /// <summary>Steps the last <see cref="Check"/> took.</summary>
    public long LastSteps => _steps;

    /// <summary>The largest set of operations the last search could linearize (for the report of an illegal history).</summary>
    public ulong DeepestPlaced => _deepest;

    /// <summary>
    /// Checks one key's operations (any order; each with its thread, call and return ticks). The register starts
    /// absent. <paramref name="lossy"/>: the register may lose its value at any moment (expiry, eviction).
    /// </summary>
    public Verdict Check(ReadOnlySpan<Op> history, bool lossy)
    {
        if (history.Length > 64)
        {
            throw new ArgumentException($"a key's sub-history has at most 64 operations, not {history.Length}", nameof(history));
        }

        _ops = Sorted(history);
        _predecessor = Predecessors(_ops);
        _lossy = lossy;
        _dead.Clear();
        _steps = 0;
        _budget = StepBudget;
        _deepest = 0;
        _deepestCount = -1;
        ulong all = _ops.Length == 64 ? ulong.MaxValue : (1UL << _ops.Length) - 1;
        _exhausted = false;
        bool found = Search(0, RegisterModel.Bit(RegisterModel.Absent), all);
        return found ? Verdict.Linearizable : _exhausted ? Verdict.Unknown : Verdict.Illegal;
    }

    /// <summary>A readable account of the last history checked: every operation with its interval, and how far the search got.</summary>
    /// <param name="ticksPerSecond">The unit of the operations' timestamps (Stopwatch's by default); 0 for logical ticks.</param>
    public string Describe(long ticksPerSecond = -1)
    {
        if (ticksPerSecond < 0)
        {
            ticksPerSecond = System.Diagnostics.Stopwatch.Frequency;
        }

        if (_ops.Length == 0)
        {
            return "(empty history)";
        }

        long t0 = _ops.Min(o => o.Call);
        var sb = new StringBuilder();
        for (int i = 0; i < _ops.Length; i++)
        {
            Op o = _ops[i];
            bool placed = (_deepest & (1UL << i)) != 0;
            sb.Append(CultureInfo.InvariantCulture, $"  #{i,-2} [{o.Call - t0,9} .. {o.Return - t0,9}] {o}{(placed ? "" : "   <- not linearizable in the longest prefix found")}\n");
        }

        string unit = ticksPerSecond > 0 ? string.Create(CultureInfo.InvariantCulture, $"{ticksPerSecond:N0} ticks/s") : "logical ticks: one per call or return";
        sb.Append(CultureInfo.InvariantCulture, $"  (ticks relative to the first call, {unit}; longest linearizable prefix: {Math.Max(0, _deepestCount)} of {_ops.Length} operations)");
        return sb.ToString();
    }

    private bool Search(ulong placed, int states, ulong all)
    {
        if (placed == all)
        {
            return true;
        }

        if (!_dead.Add((placed, states)))
        {
            return false;
        }

        if (++_steps > _budget)
        {
            _exhausted = true; // unwinds the whole search: every caller sees false and stops trying
            return false;
        }

        int count = System.Numerics.BitOperations.PopCount(placed);
        if (count > _deepestCount)
        {
            _deepestCount = count;
            _deepest = placed;
        }

        // The earliest return among the operations not yet placed: only an operation called no later than it can
        // come next (every other one started after some remaining operation had already returned).
        long minReturn = long.MaxValue;
        for (int i = 0; i < _ops.Length; i++)
        {
            if ((placed & (1UL << i)) == 0 && _ops[i].Return < minReturn)
            {
                minReturn = _ops[i].Return;
            }
        }

        for (int i = 0; i < _ops.Length && _ops[i].Call <= minReturn; i++)
        {
            ulong bit = 1UL << i;
            if ((placed & bit) != 0)
            {
                continue;
            }

            int p = _predecessor[i];
            if (p >= 0 && (placed & (1UL << p)) == 0)
            {
                continue;
            }

            int next = RegisterModel.Step(states, _ops[i], _lossy);
            if (next != 0 && Search(placed | bit, next, all))
            {
                return true;
            }

            if (_exhausted)
            {
                return false;
            }
        }

        return false;
    }

    private static Op[] Sorted(ReadOnlySpan<Op> history)
    {
        Op[] ops = history.ToArray();
        // Stable on equal call ticks: a thread's operations keep their program order (Array.Sort is not stable, so
        // the original index breaks ties).
        int[] index = Enumerable.Range(0, ops.Length).ToArray();
        Array.Sort(index, (a, b) => ops[a].Call != ops[b].Call ? ops[a].Call.CompareTo(ops[b].Call) : a.CompareTo(b));
        return index.Select(i => ops[i]).ToArray();
    }

    /// <summary>For each operation, the previous operation of the same thread in this sub-history (-1: none).</summary>
    private static int[] Predecessors(Op[] ops)
    {
        var last = new Dictionary<byte, int>();
        var pred = new int[ops.Length];
        for (int i = 0; i < ops.Length; i++)
        {
            pred[i] = last.TryGetValue(ops[i].Thread, out int p) ? p : -1;
            last[ops[i].Thread] = i;
        }

        return pred;
    }
}
