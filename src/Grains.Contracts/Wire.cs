using System.Collections.Immutable;
using Shootdown.Model.Results;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Workload;

namespace Shootdown.Grains;

/// <summary>What every grain of a run needs to rebuild the same model: the scenario text and the policy.</summary>
[GenerateSerializer, Immutable, Alias("shootdown.RunSpec")]
public sealed record RunSpec(string RunKey, string ScenarioFile, string ScenarioText, string Policy);

/// <summary>The events one entity sent one other entity in one window, in the order sent, with the masks some carry.</summary>
[GenerateSerializer, Immutable, Alias("shootdown.EventBatch")]
public sealed record EventBatch(ImmutableArray<SimEvent> Events, ImmutableArray<MaskAttachment> Masks);

/// <summary>
/// After a window: the entity's earliest output time over the events it still holds, and for
/// each destination it sent to, the earliest output bound of that batch, so the coordinator
/// knows the next safe time and who must run to it.
/// </summary>
[GenerateSerializer, Immutable, Alias("shootdown.WindowReport")]
public sealed record WindowReport(
    long EarliestOutputTime,
    ImmutableArray<int> Targets,
    ImmutableArray<long> EarliestSentOutput,
    long EventsProcessed,
    long LastEventTime);

[GenerateSerializer, Immutable, Alias("shootdown.RunProgress")]
public sealed record RunProgress(long VirtualTimeNs, bool Done, long Windows, long GrainCalls);

[GenerateSerializer, Immutable, Alias("shootdown.CpuReport")]
public sealed record CpuReport(CpuCounters Counters, ImmutableArray<OpRecord> Ops);

[GenerateSerializer, Immutable, Alias("shootdown.RunReport")]
public sealed record RunReport(string Policy, long EndNs, long EventsProcessed, ImmutableArray<CpuReport> Cpus, long Windows, long GrainCalls);

// ---- Surrogates: the model has no Orleans reference, so its wire types are converted here.

[GenerateSerializer, Immutable, Alias("shootdown.SimEvent")]
public readonly record struct SimEventSurrogate(
    long Time, byte Kind, int Source, long Seq, int Target, long Op, int Arg, long X, long Y, int Flags);

[RegisterConverter]
public sealed class SimEventConverter : IConverter<SimEvent, SimEventSurrogate>
{
    public SimEvent ConvertFromSurrogate(in SimEventSurrogate s) =>
        new(s.Time, (EventKind)s.Kind, s.Source, s.Seq, s.Target, s.Op, s.Arg, s.X, s.Y, s.Flags);

    public SimEventSurrogate ConvertToSurrogate(in SimEvent e) =>
        new(e.Time, (byte)e.Kind, e.Source, e.Seq, e.Target, e.Op, e.Arg, e.X, e.Y, e.Flags);
}

[GenerateSerializer, Immutable, Alias("shootdown.MaskAttachment")]
public readonly record struct MaskAttachmentSurrogate(int Source, long Seq, int NrCpus, ImmutableArray<ulong> Words);

[RegisterConverter]
public sealed class MaskAttachmentConverter : IConverter<MaskAttachment, MaskAttachmentSurrogate>
{
    public MaskAttachment ConvertFromSurrogate(in MaskAttachmentSurrogate s) =>
        new(s.Source, s.Seq, CpuMask.FromWords(s.NrCpus, s.Words.AsSpan()));

    public MaskAttachmentSurrogate ConvertToSurrogate(in MaskAttachment a) =>
        new(a.Source, a.Seq, a.Mask.NrCpus, [.. a.Mask.Words]);
}

[GenerateSerializer, Immutable, Alias("shootdown.CpuCounters")]
public readonly record struct CpuCountersSurrogate(int Cpu, long Cal, long Tlb, long CsdsHandled, long SyncCsdsHandled, long StolenNs, long MaxSingleNs);

[RegisterConverter]
public sealed class CpuCountersConverter : IConverter<CpuCounters, CpuCountersSurrogate>
{
    public CpuCounters ConvertFromSurrogate(in CpuCountersSurrogate s) => new(s.Cpu, s.Cal, s.Tlb, s.CsdsHandled, s.SyncCsdsHandled, s.StolenNs, s.MaxSingleNs);
    public CpuCountersSurrogate ConvertToSurrogate(in CpuCounters c) => new(c.Cpu, c.Cal, c.Tlb, c.CsdsHandled, c.SyncCsdsHandled, c.StolenNs, c.MaxSingleNs);
}

[GenerateSerializer, Immutable, Alias("shootdown.OpRecord")]
public readonly record struct OpRecordSurrogate(
    int Initiator, long Serial, int Type, int Process, long ArrivalNs, long StartNs, long EndNs,
    int FlushIpis, int SyncIpis, int CollateralIpis, bool FullFlush, bool Synced);

[RegisterConverter]
public sealed class OpRecordConverter : IConverter<OpRecord, OpRecordSurrogate>
{
    public OpRecord ConvertFromSurrogate(in OpRecordSurrogate s) =>
        new(s.Initiator, s.Serial, (OpType)s.Type, s.Process, s.ArrivalNs, s.StartNs, s.EndNs, s.FlushIpis, s.SyncIpis, s.CollateralIpis, s.FullFlush, s.Synced);

    public OpRecordSurrogate ConvertToSurrogate(in OpRecord o) =>
        new(o.Initiator, o.Serial, (int)o.Type, o.Process, o.ArrivalNs, o.StartNs, o.EndNs, o.FlushIpis, o.SyncIpis, o.CollateralIpis, o.FullFlush, o.Synced);
}
