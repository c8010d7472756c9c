using System;
using System.CommandLine;
using System.Globalization;
using System.Linq;

namespace CMap.Bench;

/// <summary>
/// Numeric command-line options for the bench tools (System.CommandLine), checked against their range with an error
/// that names the option, the range and what was given. Integers accept digit separators: 1_000_000 and 1,000,000.
/// </summary>
public static class CliOptions
{
    public static Option<int> IntegerOption(string name, string description, int defaultValue, int min, int max) => new(name)
    {
        Description = Invariant($"{description} ({min} to {max})"),
        DefaultValueFactory = _ => defaultValue,
        HelpName = "N",
        CustomParser = result =>
        {
            string text = result.Tokens.Single().Value;
            string digits = text.Replace("_", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal);
            if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
            {
                result.AddError(Invariant($"{name} must be an integer from {min} to {max}, not '{text}'."));
                return defaultValue;
            }

            return n;
        },
    };

    public static Option<double> NumberOption(string name, string description, double defaultValue, double min, double max, string helpName = "X") => new(name)
    {
        Description = Invariant($"{description} ({min} to {max})"),
        DefaultValueFactory = _ => defaultValue,
        HelpName = helpName,
        CustomParser = result =>
        {
            string text = result.Tokens.Single().Value;
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value >= min && value <= max))
            {
                result.AddError(Invariant($"{name} must be a number from {min} to {max}, not '{text}'."));
                return defaultValue;
            }

            return value;
        },
    };

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
