using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

/// <summary>Loading the current KEK with previous ones, as <c>Registry:KekFile</c> and <c>Registry:PreviousKekFiles</c> name them.</summary>
public sealed class KekFilesTests(PostgresFixture server)
{
    [Fact]
    public void A_previous_KEK_list_setting_is_split_on_commas_and_blanks_are_dropped()
    {
        Assert.Equal(["/kek/old", "/kek/older"], KeyEncryptionKeys.SplitPathList(" /kek/old, ,/kek/older,"));
        Assert.Empty(KeyEncryptionKeys.SplitPathList(null));
        Assert.Empty(KeyEncryptionKeys.SplitPathList("  "));
    }

    [Fact]
    public async Task A_missing_previous_KEK_file_is_refused_naming_that_file()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_files_missing");
        var missing = Path.Combine(Path.GetTempPath(), "vk-kek-missing-" + Guid.NewGuid().ToString("N"));

        var error = Assert.Throws<RegistryProtectionException>(() => KeyEncryptionKeys.Load(scenario.NewKek, [scenario.OldKek, missing]));

        Assert.Equal(RegistryProtectionFailure.KeyEncryptionKeyUnavailable, error.Failure);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_current_KEK_listed_again_as_previous_is_loaded_once()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_files_dup");

        using var keys = KeyEncryptionKeys.Load(scenario.OldKek, [scenario.OldKek, "", scenario.NewKek, scenario.NewKek]);

        Assert.Equal(KekScenario.IdOf(scenario.OldKek), keys.Current.Id);
        Assert.Equal([KekScenario.IdOf(scenario.NewKek)], keys.Previous.Select(key => key.Id));
    }

    [Fact]
    public async Task A_replica_holding_neither_KEK_of_the_ring_is_refused_with_every_file_and_id_it_tried()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_files_neither");
        using (var registry = scenario.Open(scenario.OldKek))
        {
            await scenario.WriteKeyAsync(registry, "sk-neither");
        }

        var other = scenario.NewKekFile("other");

        var error = Assert.Throws<RegistryProtectionException>(() => scenario.Open(scenario.NewKek, other));

        Assert.Equal(RegistryProtectionFailure.WrongKeyEncryptionKey, error.Failure);
        Assert.Contains($"id {KekScenario.IdOf(scenario.OldKek)}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{scenario.NewKek} (id {KekScenario.IdOf(scenario.NewKek)})", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{other} (id {KekScenario.IdOf(other)})", error.Message, StringComparison.Ordinal);
        foreach (var line in (await scenario.KekFileTextsAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Assert.DoesNotContain(line, error.ToString(), StringComparison.Ordinal);
        }
    }
}
