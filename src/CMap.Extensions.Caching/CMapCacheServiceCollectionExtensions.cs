using System;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers CMap as the application's <see cref="IDistributedCache"/>.</summary>
public static class CMapCacheServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="CMap.Extensions.Caching.CMapDistributedCache"/> as a singleton and as the
    /// <see cref="IDistributedCache"/>, replacing an earlier <see cref="IDistributedCache"/> registration, so that
    /// swapping stores is a one-line change. (<c>AddStackExchangeRedisCache</c> adds its registration after an earlier
    /// one rather than removing it; either way the last registration is the one resolved.) The container owns the
    /// map and disposes it. The clock is the container's <see cref="TimeProvider"/> unless the options set one; the
    /// "CMap" meter comes from the container's <see cref="IMeterFactory"/> when it has one.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="setupAction">Sets the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IServiceCollection AddCMapDistributedCache(this IServiceCollection services, Action<CMap.Extensions.Caching.CMapCacheOptions> setupAction)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(setupAction);
        services.AddOptions();
        services.Configure(setupAction);
        return AddCore(services);
    }

    /// <summary>
    /// As <see cref="AddCMapDistributedCache(IServiceCollection, Action{CMap.Extensions.Caching.CMapCacheOptions})"/>,
    /// with the options bound from <paramref name="configuration"/> (a section such as <c>"Caching:CMap"</c>) through
    /// the Options pattern.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The section to bind.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IServiceCollection AddCMapDistributedCache(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<CMap.Extensions.Caching.CMapCacheOptions>().Bind(configuration);
        return AddCore(services);
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.TryAddSingleton(static sp => new CMap.Extensions.Caching.CMapDistributedCache(
            sp.GetRequiredService<IOptions<CMap.Extensions.Caching.CMapCacheOptions>>(),
            sp.GetService<TimeProvider>(),
            sp.GetService<IMeterFactory>()));
        services.Replace(ServiceDescriptor.Singleton<IDistributedCache>(static sp => sp.GetRequiredService<CMap.Extensions.Caching.CMapDistributedCache>()));
        return services;
    }
}
