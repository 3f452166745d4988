using System.Buffers.Binary;
using VirtualKeys.Sidecar.Resolve;

namespace VirtualKeys.Sidecar.Tests.Resolve;

public sealed class DecisionIdsTests
{
    // The reference implementation's vectors: key 00 01 .. 0f, message 00 01 .. (n - 1), output bytes.
    public static TheoryData<int, string> ReferenceVectors() => new()
    {
        { 0, "310e0edd47db6f72" },
        { 1, "fd67dc93c539f874" },
        { 7, "37d1018bf50002ab" },
        { 8, "6224939a79f5f593" },
        { 15, "e545be4961ca29a1" },
        { 16, "db9bc2577fcc2a3f" },
    };

    [Theory]
    [MemberData(nameof(ReferenceVectors))]
    public void SipHash_matches_the_reference_vectors(int length, string expected)
    {
        var message = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();

        var hash = SipHash.Hash(0x0706050403020100UL, 0x0f0e0d0c0b0a0908UL, message);

        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, hash);
        Assert.Equal(expected, Convert.ToHexStringLower(bytes));
    }

    [Fact]
    public void An_issued_id_is_recognised_and_every_id_is_new()
    {
        var ids = new DecisionIds();

        var first = ids.Next();
        var second = ids.Next();

        Assert.NotEqual(first, second);
        Assert.True(ids.WasIssued(first));
        Assert.True(ids.WasIssued(second));
    }

    [Fact]
    public void An_id_with_a_changed_tag_or_sequence_is_not_recognised()
    {
        var ids = new DecisionIds();
        var id = ids.Next();
        ids.Next();

        var otherTag = id[..^1] + (id[^1] == '0' ? '1' : '0');
        var neighbour = id[..32] + (id[32] == '1' ? '2' : '1') + id[33..];

        Assert.False(ids.WasIssued(otherTag));
        Assert.False(ids.WasIssued(neighbour));
    }

    [Fact]
    public void An_id_in_upper_case_is_not_the_decision_issued()
    {
        var ids = new DecisionIds();
        string id;
        do
        {
            id = ids.Next();
        }
        while (!id[1..].Any(char.IsAsciiLetterLower));

        // Answered as "already settled", it would leave the real decision open until it expires.
        Assert.True(ids.WasIssued(id));
        Assert.False(ids.WasIssued("d" + id[1..].ToUpperInvariant()));
    }

    [Fact]
    public void Ids_of_another_sidecar_are_not_recognised()
    {
        var mine = new DecisionIds();
        var theirs = new DecisionIds();
        mine.Next();

        Assert.False(mine.WasIssued(theirs.Next()));
    }
}
