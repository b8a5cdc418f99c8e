using Shootdown.Engine.Queues;
using Shootdown.Model.Kernel;
using Shootdown.Model.Results;
using Shootdown.Model.Simulation;
using Shootdown.Model.Tracing;
using Shootdown.Protocol;

namespace Shootdown.Engine;

/// <summary>
/// The window protocol on this process's threads: the same partitions (<see cref="PartitionProtocol"/>)
/// and coordinator (<see cref="WindowCoordinator"/>) as the grain engine, with plain calls for
/// transport. Each window, the due partitions run side by side, one per thread; a batch for
/// another partition waits in its mailbox until that partition next runs, which the window
/// barrier orders after the send. Every entity is still an <see cref="EntityRunner"/> that alone
/// holds its model object, so the result is the reference's, for any partition count.
/// </summary>
public sealed class ParallelEngine
{
    private readonly SimulationSetup _setup;
    private readonly Partition[] _partitions;
    private readonly WindowCoordinator _coordinator;

    /// <summary>
    /// A run of <paramref name="setup"/> in <paramref name="partitions"/> partitions (at most one per
    /// CPU); sampled operations go to <paramref name="tracing"/>; with <paramref name="until"/>, only
    /// the events before that virtual time are handled, as <see cref="ReferenceEngine.Run"/> does.
    /// </summary>
    public ParallelEngine(SimulationSetup setup, int partitions, IOpTraceSink? tracing = null, long until = long.MaxValue)
    {
        _setup = setup;
        var contract = new SyncContract(setup);
        var map = new PartitionMap(setup.CpuCount, setup.ProcessCount, partitions);
        _partitions = new Partition[partitions];
        for (var p = 0; p < partitions; p++) _partitions[p] = new Partition(this, contract, map, p, tracing, until);
        _coordinator = new WindowCoordinator(partitions, contract, until);
    }

    public long EventsProcessed => _coordinator.EventsProcessed;

    /// <summary>Windows run so far.</summary>
    public long Windows => _coordinator.Windows;

    /// <summary>The most events one partition handled, summed over the windows (<see cref="WindowCoordinator.SpanEvents"/>).</summary>
    public long SpanEvents => _coordinator.SpanEvents;

    /// <summary>Runs to quiescence. <paramref name="progress"/> hears the virtual time now and then.</summary>
    public PolicyResult Run(Action<long>? progress = null, CancellationToken cancellation = default)
    {
        var all = Enumerable.Range(0, _partitions.Length).ToList();
        _coordinator.Apply(all, RunEach(all, p => p.Protocol.Start()));
        while (_coordinator.TryNextWindow(out var safe, out var due))
        {
            _coordinator.Apply(due, RunEach(due, p =>
            {
                p.TakeMail();
                return p.Protocol.RunWindow(safe, _coordinator.Windows);
            }));
            if ((_coordinator.Windows & 0x3FF) == 0)
            {
                progress?.Invoke(_coordinator.VirtualTime);
                cancellation.ThrowIfCancellationRequested();
            }
        }
        var end = _coordinator.LastEventTime;
        progress?.Invoke(end);
        var cpus = _partitions.SelectMany(p => p.Cpus).ToList();
        return InProcessResult.Collect(_setup, end, _coordinator.EventsProcessed, cpus);
    }

    /// <summary>
    /// Runs <paramref name="step"/> on each of <paramref name="partitions"/>, side by side when
    /// there are several: a partition touches only its own entities, its own windows and other
    /// partitions' mailboxes (locked), and each one's transport completes its steps on the thread
    /// that runs it.
    /// </summary>
    private PartitionStep[] RunEach(List<int> partitions, Func<Partition, ValueTask<PartitionStep>> step)
    {
        var steps = new PartitionStep[partitions.Count];
        if (partitions.Count == 1)
        {
            steps[0] = step(_partitions[partitions[0]]).GetAwaiter().GetResult();
            return steps;
        }
        Parallel.For(0, partitions.Count, i => steps[i] = step(_partitions[partitions[i]]).GetAwaiter().GetResult());
        return steps;
    }

    /// <summary>One partition and its entities, reached by plain calls.</summary>
    private sealed class Partition : IPartitionTransport, IImmediateDelivery
    {
        private readonly ParallelEngine _engine;
        private readonly SyncContract _contract;
        private readonly IOpTraceSink? _tracing;
        /// <summary>This partition's runners by entity id (null for another partition's entities).</summary>
        private readonly EntityRunner?[] _runners;
        private readonly List<(PartitionBatchOut Batch, long Window)> _mailbox = new();
        /// <summary>What this partition's entities sent in the current window, until the protocol has routed it: 4 MiB segments.</summary>
        private readonly EventBuffer _outbox = new(maxSegmentLength: 1 << 16);
        /// <summary>
        /// Where this partition's entities keep their pending events: one store for all, as the
        /// reference keeps its, so a slot one entity frees is the next another takes. Only this
        /// partition's thread of the moment touches it.
        /// </summary>
        private readonly EventSlots _slots = new();

        public Partition(ParallelEngine engine, SyncContract contract, PartitionMap map, int partition, IOpTraceSink? tracing, long until)
        {
            _engine = engine;
            _contract = contract;
            _tracing = tracing;
            _runners = new EntityRunner?[map.EntityCount];
            Protocol = new PartitionProtocol(new PartitionWindows(contract, map, partition, until, immediate: this, chunksKept: ChunkPool.KeptInProcess), this);
        }

        public PartitionProtocol Protocol { get; }

        public IEnumerable<Cpu> Cpus => Protocol.Windows.Members.Select(id => _runners[id]!.Entity).OfType<Cpu>();

        public ValueTask<EntityStep[]> Start(IReadOnlyList<int> entities)
        {
            var steps = new EntityStep[entities.Count];
            _outbox.Clear();
            for (var i = 0; i < entities.Count; i++)
            {
                var runner = new EntityRunner(_contract.Setup.CreateEntity(entities[i], _tracing), _contract, _slots);
                _runners[entities[i]] = runner;
                runner.Start(_outbox);
                steps[i] = runner.TakeStep();
            }
            return ValueTask.FromResult(steps);
        }

        public ValueTask<EntityStep[]> Run(List<DueEntity> due)
        {
            var steps = new EntityStep[due.Count];
            // The last window's sends were routed before it reported.
            _outbox.Clear();
            for (var i = 0; i < due.Count; i++)
            {
                var d = due[i];
                var runner = _runners[d.Entity]!;
                runner.Deliver(d.Events.Runs(), d.Masks);
                Protocol.Windows.Handed(d.Events);
                runner.RunUntil(d.RunTo, _outbox);
                steps[i] = runner.TakeStep();
            }
            return ValueTask.FromResult(steps);
        }

        /// <summary>An event for one of this partition's entities goes straight into its runner's queue, which no other thread touches.</summary>
        public void DeliverNow(int entity, in SimEvent e) => _runners[entity]!.Deliver(e);

        public ValueTask Send(List<PartitionBatchOut> batches, long window)
        {
            foreach (var b in batches)
            {
                var to = _engine._partitions[b.Partition];
                lock (to._mailbox) to._mailbox.Add((b, window));
            }
            return ValueTask.CompletedTask;
        }

        /// <summary>Delivers the batches other partitions sent since this one last ran: before it chooses its due entities.</summary>
        public void TakeMail()
        {
            lock (_mailbox)
            {
                foreach (var (b, window) in _mailbox) Protocol.Deliver(b.Events, b.Masks, window);
                _mailbox.Clear();
            }
        }
    }
}
