using System.Collections.Immutable;
using Shootdown.Model.Results;
using Shootdown.Model.Simulation;
using Shootdown.Model.Topology;
using Shootdown.Model.Workload;

namespace Shootdown.Grains;

/// <summary>
/// What every grain of a run needs to rebuild the same model: the <c>SimulationDefinition</c>
/// and the <c>KernelPolicy</c>, in their JSON forms (the model has no Orleans serializers);
/// and, for its spans only, the tracing ratio, the run's id and the scenario's name.
/// </summary>
[GenerateSerializer, Immutable, Alias("shootdown.RunSpec")]
public sealed record RunSpec(
    [property: Id(0)] string RunKey,
    [property: Id(1)] string DefinitionJson,
    [property: Id(2)] string PolicyJson,
    [property: Id(3)] string Policy,
    [property: Id(4)] double TraceSampleRatio,
    [property: Id(5)] string RunId,
    [property: Id(6)] string Scenario);

/// <summary>The events one entity sent one other entity in one window, in the order sent, with the masks some carry.</summary>
[GenerateSerializer, Immutable, Alias("shootdown.EventBatch")]
public sealed record EventBatch(
    [property: Id(0)] ImmutableArray<SimEvent> Events,
    [property: Id(1)] ImmutableArray<MaskAttachment> Masks);

/// <summary>
/// After a window: the entity's earliest output time over the events it still holds, and for
/// each destination it sent to, the earliest output bound of that batch, so the coordinator
/// knows the next safe time and who must run to it.
/// </summary>
[GenerateSerializer, Immutable, Alias("shootdown.WindowReport")]
public sealed record WindowReport(
    [property: Id(0)] long EarliestOutputTime,
    [property: Id(1)] ImmutableArray<int> Targets,
    [property: Id(2)] ImmutableArray<long> EarliestSentOutput,
    [property: Id(3)] long EventsProcessed,
    [property: Id(4)] long LastEventTime);

[GenerateSerializer, Immutable, Alias("shootdown.RunProgress")]
public sealed record RunProgress(
    [property: Id(0)] long VirtualTimeNs,
    [property: Id(1)] bool Done,
    [property: Id(2)] long Windows,
    [property: Id(3)] long GrainCalls);

/// <summary>A CPU's counters and operations; with walkers, also the tables its operations retired (as JSON).</summary>
[GenerateSerializer, Immutable, Alias("shootdown.CpuReport")]
public sealed record CpuReport(
    [property: Id(0)] CpuCounters Counters,
    [property: Id(1)] ImmutableArray<OpRecord> Ops,
    [property: Id(2)] string RetiresJson);

[GenerateSerializer, Immutable, Alias("shootdown.RunReport")]
public sealed record RunReport(
    [property: Id(0)] string Policy,
    [property: Id(1)] long EndNs,
    [property: Id(2)] long EventsProcessed,
    [property: Id(3)] ImmutableArray<CpuReport> Cpus,
    [property: Id(4)] long Windows,
    [property: Id(5)] long GrainCalls,
    [property: Id(6)] string SafetyJson);

// ---- Surrogates: the model has no Orleans reference, so its wire types are converted here.

[GenerateSerializer, Immutable, Alias("shootdown.SimEvent")]
public readonly record struct SimEventSurrogate(
    [property: Id(0)] long Time,
    [property: Id(1)] byte Kind,
    [property: Id(2)] int Source,
    [property: Id(3)] long Seq,
    [property: Id(4)] int Target,
    [property: Id(5)] long Op,
    [property: Id(6)] int Arg,
    [property: Id(7)] long X,
    [property: Id(8)] long Y,
    [property: Id(9)] int Flags);

[RegisterConverter]
public sealed class SimEventConverter : IConverter<SimEvent, SimEventSurrogate>
{
    public SimEvent ConvertFromSurrogate(in SimEventSurrogate s) =>
        new(s.Time, (EventKind)s.Kind, s.Source, s.Seq, s.Target, s.Op, s.Arg, s.X, s.Y, s.Flags);

    public SimEventSurrogate ConvertToSurrogate(in SimEvent e) =>
        new(e.Time, (byte)e.Kind, e.Source, e.Seq, e.Target, e.Op, e.Arg, e.X, e.Y, e.Flags);
}

[GenerateSerializer, Immutable, Alias("shootdown.MaskAttachment")]
public readonly record struct MaskAttachmentSurrogate(
    [property: Id(0)] int Source,
    [property: Id(1)] long Seq,
    [property: Id(2)] int NrCpus,
    [property: Id(3)] ImmutableArray<ulong> Words);

[RegisterConverter]
public sealed class MaskAttachmentConverter : IConverter<MaskAttachment, MaskAttachmentSurrogate>
{
    public MaskAttachment ConvertFromSurrogate(in MaskAttachmentSurrogate s) =>
        new(s.Source, s.Seq, CpuMask.FromWords(s.NrCpus, s.Words.AsSpan()));

    public MaskAttachmentSurrogate ConvertToSurrogate(in MaskAttachment a) =>
        new(a.Source, a.Seq, a.Mask.NrCpus, [.. a.Mask.Words]);
}

[GenerateSerializer, Immutable, Alias("shootdown.CpuCounters")]
public readonly record struct CpuCountersSurrogate(
    [property: Id(0)] int Cpu,
    [property: Id(1)] long Cal,
    [property: Id(2)] long Tlb,
    [property: Id(3)] long CsdsHandled,
    [property: Id(4)] long SyncCsdsHandled,
    [property: Id(5)] long StolenNs,
    [property: Id(6)] long MaxSingleNs,
    [property: Id(7)] long MaxPeriodNoiseNs);

[RegisterConverter]
public sealed class CpuCountersConverter : IConverter<CpuCounters, CpuCountersSurrogate>
{
    public CpuCounters ConvertFromSurrogate(in CpuCountersSurrogate s) => new(s.Cpu, s.Cal, s.Tlb, s.CsdsHandled, s.SyncCsdsHandled, s.StolenNs, s.MaxSingleNs, s.MaxPeriodNoiseNs);
    public CpuCountersSurrogate ConvertToSurrogate(in CpuCounters c) => new(c.Cpu, c.Cal, c.Tlb, c.CsdsHandled, c.SyncCsdsHandled, c.StolenNs, c.MaxSingleNs, c.MaxPeriodNoiseNs);
}

[GenerateSerializer, Immutable, Alias("shootdown.OpRecord")]
public readonly record struct OpRecordSurrogate(
    [property: Id(0)] int Initiator,
    [property: Id(1)] long Serial,
    [property: Id(2)] int Type,
    [property: Id(3)] int Process,
    [property: Id(4)] long ArrivalNs,
    [property: Id(5)] long StartNs,
    [property: Id(6)] long EndNs,
    [property: Id(7)] int FlushIpis,
    [property: Id(8)] int SyncIpis,
    [property: Id(9)] int CollateralIpis,
    [property: Id(10)] bool FullFlush,
    [property: Id(11)] bool Synced);

[RegisterConverter]
public sealed class OpRecordConverter : IConverter<OpRecord, OpRecordSurrogate>
{
    public OpRecord ConvertFromSurrogate(in OpRecordSurrogate s) =>
        new(s.Initiator, s.Serial, (OpType)s.Type, s.Process, s.ArrivalNs, s.StartNs, s.EndNs, s.FlushIpis, s.SyncIpis, s.CollateralIpis, s.FullFlush, s.Synced);

    public OpRecordSurrogate ConvertToSurrogate(in OpRecord o) =>
        new(o.Initiator, o.Serial, (int)o.Type, o.Process, o.ArrivalNs, o.StartNs, o.EndNs, o.FlushIpis, o.SyncIpis, o.CollateralIpis, o.FullFlush, o.Synced);
}
