using System;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace CMap;

// The parameter names passed on are the public callers' parameters, not this helper's.
#pragma warning disable CA2208

/// <summary>The one place CMap builds exceptions, so hot paths hold only a call.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    internal static void ThrowObjectDisposed() => throw new ObjectDisposedException(nameof(ByteMap));

    [DoesNotReturn]
    internal static void ThrowKeyTooLong(int length) =>
        throw new ArgumentException(
            string.Format(CultureInfo.InvariantCulture, "The key is {0:N0} bytes; the limit is {1:N0} bytes (ByteMap.MaxKeyLength). A key over the limit is bad input, never a miss.", length, ByteMap.MaxKeyLength),
            "key");

    [DoesNotReturn]
    internal static void ThrowValueTooLong(int length, int limit) =>
        throw new ArgumentException(
            string.Format(CultureInfo.InvariantCulture, "The value is {0:N0} bytes; the limit is {1:N0} bytes (CMapConfig.MaxValueLength).", length, limit),
            "value");

    [DoesNotReturn]
    internal static void ThrowConfig(string field, string rule, object? actual) =>
        throw new ArgumentException(
            string.Format(CultureInfo.InvariantCulture, "CMapConfig.{0} {1}; it was {2}.", field, rule, actual ?? "null"),
            field);

    [DoesNotReturn]
    internal static void ThrowInitialCapacity(long entries, long bytes, string rule) =>
        throw new ArgumentOutOfRangeException(
            "InitialCapacity",
            entries,
            string.Format(CultureInfo.InvariantCulture, "CMapConfig.InitialCapacity {0}; {1:N0} entries would need {2:N0} bytes of index up front.", rule, entries, bytes));

    [DoesNotReturn]
    internal static void ThrowInitialCapacityOutOfMemory(long entries, long bytes, Exception inner) =>
        throw new InsufficientMemoryException(
            string.Format(CultureInfo.InvariantCulture, "CMapConfig.InitialCapacity {0:N0} needs {1:N0} bytes of index up front, which could not be allocated.", entries, bytes),
            inner);

    [DoesNotReturn]
    internal static void ThrowOption(string option, TimeSpan actual) =>
        throw new ArgumentOutOfRangeException(
            "options",
            actual,
            string.Format(CultureInfo.InvariantCulture, "CMapEntryOptions.{0} must be positive; it was {1}.", option, actual));

    [DoesNotReturn]
    internal static void ThrowEntryOverBudget(long entryBytes, long limit, long budget) =>
        throw new ArgumentException(
            string.Format(CultureInfo.InvariantCulture, "The entry takes {0:N0} bytes; with CMapConfig.MaxBytes = {2:N0}, an entry may take at most a quarter of the budget, {1:N0} bytes. The map is unchanged.", entryBytes, limit, budget),
            "value");

    [DoesNotReturn]
    internal static void ThrowInvalidOperation(string message) => throw new InvalidOperationException(message);

    [DoesNotReturn]
    internal static void ThrowArgumentNull(string name) => throw new ArgumentNullException(name);
}
