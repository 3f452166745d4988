using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Runtime.Metrics;
using VirtualKeys.Operator.Runtime.Queues;

namespace VirtualKeys.Operator.Runtime.Controllers;

/// <summary>
/// Ties a primary kind's informer, any number of secondary watches, a work queue and a pool of
/// workers to one <see cref="IReconciler{T}"/>. Every change of a primary object queues its own
/// key; every change of a secondary object queues the keys its mapping function names. Workers
/// hand each key to the reconciler, at most one at a time per key.
/// </summary>
public sealed class Controller<T> : IController
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IResourceInformer<T> _informer;
    private readonly IReconciler<T> _reconciler;
    private readonly ControllerOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ControllerMetrics? _metrics;
    private readonly ILogger _logger;
    private int _running;

    public Controller(
        IResourceInformer<T> informer,
        IReconciler<T> reconciler,
        ControllerOptions? options = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null,
        ControllerMetrics? metrics = null)
    {
        _informer = informer ?? throw new ArgumentNullException(nameof(informer));
        _reconciler = reconciler ?? throw new ArgumentNullException(nameof(reconciler));
        _options = options ?? new ControllerOptions();
        _options.Validate();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _metrics = metrics;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<Controller<T>>();
        Name = string.IsNullOrWhiteSpace(_options.Name) ? informer.Kind : _options.Name;
        Queue = new WorkQueue<ReconcileRequest>(
            new WorkQueueOptions { Name = Name, RetryBaseDelay = _options.RetryBaseDelay, RetryMaxDelay = _options.RetryMaxDelay },
            _timeProvider,
            metrics);

        // Level-triggered: whatever happened to the object, the reconciler looks at it afresh.
        _informer.AddEventHandler(new ResourceEventHandler<T>(
            obj => Enqueue(obj),
            (_, obj) => Enqueue(obj),
            obj => Enqueue(obj)));
    }

    public string Name { get; }

    public IResourceCache<T> Cache => _informer;

    public WorkQueue<ReconcileRequest> Queue { get; }

    /// <summary>
    /// Reconciles primary objects when a <typeparamref name="TOther"/> changes: a Secret change,
    /// say, maps to the VirtualKeys that reference it. An update maps both the old and the new
    /// state, so an object that stops referencing a secret is reconciled too. Register before the
    /// informers start.
    /// </summary>
    public Controller<T> Watches<TOther>(IResourceInformer<TOther> informer, Func<TOther, IEnumerable<ReconcileRequest>> map)
        where TOther : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(informer);
        ArgumentNullException.ThrowIfNull(map);
        informer.AddEventHandler(new ResourceEventHandler<TOther>(
            obj => EnqueueAll(map(obj)),
            (old, obj) =>
            {
                EnqueueAll(map(obj));
                if (!ReferenceEquals(old, obj))
                {
                    EnqueueAll(map(old));
                }
            },
            obj => EnqueueAll(map(obj))));
        return this;
    }

    public async Task RunAsync(CancellationToken stopAccepting, CancellationToken abortInFlight)
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            throw new InvalidOperationException($"Controller {Name} is already running.");
        }

        try
        {
            ControllerLog.Starting(_logger, Name, _options.Workers);
            var workers = Enumerable.Range(0, _options.Workers)
                .Select(_ => Task.Run(() => WorkAsync(stopAccepting, abortInFlight), CancellationToken.None));
            await Task.WhenAll(workers);
            ControllerLog.Stopped(_logger, Name);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    public void ShutDown() => Queue.ShutDown();

    private async Task WorkAsync(CancellationToken stopAccepting, CancellationToken abortInFlight)
    {
        while (!stopAccepting.IsCancellationRequested)
        {
            (ReconcileRequest Item, bool ShutDown) next;
            try
            {
                next = await Queue.GetAsync(stopAccepting);
            }
            catch (OperationCanceledException) when (stopAccepting.IsCancellationRequested)
            {
                return;
            }

            if (next.ShutDown)
            {
                return;
            }

            await ReconcileAsync(next.Item, abortInFlight);
        }
    }

    private async Task ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
    {
        var started = _timeProvider.GetTimestamp();
        string outcome;
        _metrics?.ReconcileStarted(Name);
        try
        {
            var result = await _reconciler.ReconcileAsync(request, cancellationToken);
            Queue.Forget(request);
            if (result.RequeueDelay is { } delay)
            {
                Queue.AddAfter(request, delay);
                outcome = ReconcileOutcome.RequeueAfter;
                ControllerLog.RequeuedAfter(_logger, Name, request.Namespace, request.Name, delay);
            }
            else
            {
                outcome = ReconcileOutcome.Success;
                ControllerLog.Reconciled(_logger, Name, request.Namespace, request.Name, _timeProvider.GetElapsedTime(started));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Leadership lost, or shutdown out of time: whoever reconciles next starts this key over.
            Queue.Add(request);
            outcome = ReconcileOutcome.Canceled;
            ControllerLog.Aborted(_logger, Name, request.Namespace, request.Name);
        }
        catch (Exception e)
        {
            Queue.AddRateLimited(request);
            outcome = ReconcileOutcome.Error;
            ControllerLog.Failed(_logger, e, Name, request.Namespace, request.Name, Queue.NumRequeues(request));
        }
        finally
        {
            Queue.Done(request);
            _metrics?.ReconcileEnded(Name);
        }

        _metrics?.ReconcileFinished(Name, outcome, _timeProvider.GetElapsedTime(started));
    }

    private void Enqueue(T obj)
    {
        if (obj.Metadata?.Name is not null)
        {
            Queue.Add(ReconcileRequest.For(obj));
        }
    }

    private void EnqueueAll(IEnumerable<ReconcileRequest>? requests)
    {
        foreach (var request in requests ?? [])
        {
            Queue.Add(request);
        }
    }
}
