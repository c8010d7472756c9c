namespace CMap.Buffer;

internal static class Placeholder
{
}
