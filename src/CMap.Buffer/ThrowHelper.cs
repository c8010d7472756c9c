using System;
using System.Diagnostics.CodeAnalysis;

namespace CMap.Buffer;

/// <summary>The one place CMap.Buffer builds exceptions, so that callers' hot paths stay small.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    internal static void ThrowOutOfMemory(nuint bytes) =>
        throw new InsufficientMemoryException($"CMap could not allocate {bytes} bytes of native memory.");

    [DoesNotReturn]
    internal static void ThrowAddressTooWide() =>
        throw new PlatformNotSupportedException("CMap needs native addresses below 2^48; this platform returned a wider one.");

    [DoesNotReturn]
    internal static void ThrowInvalidOperation(string message) => throw new InvalidOperationException(message);
}
