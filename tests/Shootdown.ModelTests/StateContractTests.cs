using System.Buffers.Binary;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Safety;
using Shootdown.Model.State;
using Shootdown.Model.Topology;
using Shootdown.Model.Workload;

namespace Shootdown.Tests;

/// <summary>The state contract's encoding: what comes back, and what is refused, in one line.</summary>
public sealed class StateContractTests
{
    private static readonly TableRetire Retire = new(Initiator: 3, Serial: 17, OpType.CollapseHugePage, Process: 1, ClearNs: 1_000, RetireNs: 2_500,
        RetireHazard.IrqOffWalkers, RcuDeferred: false, TlbFlushMechanism.LocalOnly, FlushNs: 1_100,
        FlushMask: CpuMask.FromWords(70, [0b1011UL, 1UL << 5]), Interrupted: CpuMask.FromWords(70, [0b10UL, 0]), Sync: "IPI to 69 CPUs (all online)", Share: 2,
        FreesTable: false);

    private static readonly Violation Found = new(TimeNs: 2_500, Cpu: 5, WalkerKind.GupFast, WalkStartNs: 900, WalkEndNs: 3_000, Initiator: 3, OpSerial: 17,
        OpType.CollapseHugePage, Process: 1, Policy: "v10", Why: "walk began before the clear and was not interrupted");

    [Fact]
    public void ARetiredTableAndAReportComeBackFieldForField()
    {
        var retire = StateContract.Decode<TableRetire>(StateContract.Encode(Retire));
        Assert.Equal(Retire with { FlushMask = null, Interrupted = null! }, retire with { FlushMask = null, Interrupted = null! });
        Assert.Equal(Retire.FlushMask!.Words.ToArray(), retire.FlushMask!.Words.ToArray());
        Assert.Equal(70, retire.Interrupted.NrCpus);
        Assert.Equal([0b10UL, 0], retire.Interrupted.Words.ToArray());

        var report = new SafetyReport(Walks: 40, Retires: 2, RcuDeferredRetires: 1, ViolationCount: 1, [Found]);
        var back = StateContract.Decode<SafetyReport>(StateContract.Encode(report));
        Assert.Equal((40L, 2L, 1L, 1L), (back.Walks, back.Retires, back.RcuDeferredRetires, back.ViolationCount));
        Assert.Equal(Found, Assert.Single(back.Violations));
        Assert.Null(StateContract.Decode<TableRetire>(StateContract.Encode(Retire with { FlushMask = null })).FlushMask);
    }

    [Fact]
    public void AnOperationAndACpusCountersComeBackFieldForField()
    {
        var op = new OpRecord(Initiator: 7, Serial: 3, OpType.HugetlbUnshare, Process: 2, ArrivalNs: 10, StartNs: 20, EndNs: 9_000, FlushIpis: 12, SyncIpis: 4_095,
            CollateralIpis: 4_000, FullFlush: true, Synced: false) { Time = new InitiatorTime(LoopNs: 100, IpiSendNs: 200, LocalFuncNs: 300, WaitNs: 8_000) };
        Assert.Equal(op, StateContract.Decode<OpRecord>(StateContract.Encode(op)));
        Assert.Equal(op.Time, StateContract.Decode<OpRecord>(StateContract.Encode(op)).Time);
        var counters = new CpuCounters(Cpu: 4_095, Cal: 1, Tlb: 2, CsdsHandled: 3, SyncCsdsHandled: 4, StolenNs: 5, MaxSingleNs: 6, MaxPeriodNoiseNs: 7,
            IdleExitNs: 8, EntryExitNs: 9, HandlerNs: 10);
        Assert.Equal(counters, StateContract.Decode<CpuCounters>(StateContract.Encode(counters)));
    }

    [Fact]
    public void BytesCutShortAreRefusedWithWhereTheyEnd()
    {
        var bytes = StateContract.Encode(Retire);
        var error = Assert.Throws<InvalidDataException>(() => StateContract.Decode<TableRetire>(bytes.AsMemory(0, bytes.Length - 3)));
        Assert.Matches(@"^state at byte \d+ of \d+: .+ needs \d+ bytes, \d+ are left$", error.Message);
        var longer = Assert.Throws<InvalidDataException>(() => StateContract.Decode<TableRetire>(bytes.Append((byte)0).ToArray()));
        Assert.EndsWith("1 bytes left over after the value", longer.Message);
    }

    [Fact]
    public void AnUndeclaredEnumAFlagThatIsNotOneAHugeCountAndAnotherVersionAreRefused()
    {
        var bytes = StateContract.Encode(Retire);
        // Version (4), initiator (4), serial (8): the operation type's int is next.
        var op = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(op.AsSpan(16), 99);
        Assert.EndsWith("99 is not a OpType", Assert.Throws<InvalidDataException>(() => StateContract.Decode<TableRetire>(op)).Message);

        var report = StateContract.Encode(new SafetyReport(1, 1, 0, 1, [Found]));
        // Version then four longs: the violations' count is next.
        BinaryPrimitives.WriteInt32LittleEndian(report.AsSpan(36), int.MaxValue);
        Assert.Contains($"a list of {int.MaxValue}", Assert.Throws<InvalidDataException>(() => StateContract.Decode<SafetyReport>(report)).Message);

        var flag = StateContract.Encode(new CpuSafety(0, 0, []));
        var withFlag = StateContract.Encode(Retire);
        // Version, initiator, serial, op, process, clear, retire, hazard: the RCU flag is next.
        withFlag[4 + 4 + 8 + 4 + 4 + 8 + 8 + 4] = 7;
        Assert.EndsWith("a flag reads 7, not 0 or 1", Assert.Throws<InvalidDataException>(() => StateContract.Decode<TableRetire>(withFlag)).Message);

        BinaryPrimitives.WriteInt32LittleEndian(flag, StateContract.Version + 1);
        Assert.Equal($"a CpuSafety in state contract version {StateContract.Version + 1}; this build reads {StateContract.Version}",
            Assert.Throws<InvalidDataException>(() => StateContract.Decode<CpuSafety>(flag)).Message);
    }
}
