using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Shootdown.Telemetry.Export;

/// <summary>
/// The OTLP/JSON encoding (opentelemetry-proto's JSON mapping: hex ids, 64-bit integers as
/// strings, enum values as numbers) of one export batch: an ExportTraceServiceRequest or an
/// ExportMetricsServiceRequest, on one line.
/// </summary>
internal static class OtlpJson
{
    public static void WriteSpans(Utf8JsonWriter w, Resource resource, in Batch<Activity> batch) =>
        WriteRequest(w, resource, batch, "resourceSpans", "scopeSpans", "spans", a => a.Source.Name, WriteSpan);

    public static void WriteMetrics(Utf8JsonWriter w, Resource resource, in Batch<Metric> batch) =>
        WriteRequest(w, resource, batch, "resourceMetrics", "scopeMetrics", "metrics", m => m.MeterName, WriteMetric);

    /// <summary>The envelope both requests share: one resource, its items grouped by instrumentation scope.</summary>
    private static void WriteRequest<T>(Utf8JsonWriter w, Resource resource, in Batch<T> batch, string resourceKey, string scopeKey, string itemsKey,
        Func<T, string> scopeOf, Action<Utf8JsonWriter, T> writeItem) where T : class
    {
        w.WriteStartObject();
        w.WriteStartArray(resourceKey);
        w.WriteStartObject();
        WriteResource(w, resource);
        w.WriteStartArray(scopeKey);
        foreach (var scope in Group(batch, scopeOf))
        {
            w.WriteStartObject();
            WriteScope(w, scope.Key);
            w.WriteStartArray(itemsKey);
            foreach (var item in scope) writeItem(w, item);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>A batch can be enumerated once; this groups it by scope, keeping first-seen order.</summary>
    private static List<IGrouping<string, T>> Group<T>(in Batch<T> batch, Func<T, string> key) where T : class
    {
        var items = new List<T>();
        foreach (var item in batch) items.Add(item);
        return items.GroupBy(key).ToList();
    }

    private static void WriteResource(Utf8JsonWriter w, Resource resource)
    {
        w.WriteStartObject("resource");
        WriteAttributes(w, resource.Attributes.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)));
        w.WriteEndObject();
    }

    private static void WriteScope(Utf8JsonWriter w, string name)
    {
        w.WriteStartObject("scope");
        w.WriteString("name", name);
        w.WriteEndObject();
    }

    private static void WriteSpan(Utf8JsonWriter w, Activity a)
    {
        w.WriteStartObject();
        w.WriteString("traceId", a.TraceId.ToHexString());
        w.WriteString("spanId", a.SpanId.ToHexString());
        if (a.ParentSpanId != default) w.WriteString("parentSpanId", a.ParentSpanId.ToHexString());
        w.WriteString("name", a.DisplayName);
        // SpanKind: INTERNAL = 1 ... CONSUMER = 5; ActivityKind counts from Internal = 0.
        w.WriteNumber("kind", (int)a.Kind + 1);
        w.WriteString("startTimeUnixNano", UnixNanos(a.StartTimeUtc));
        w.WriteString("endTimeUnixNano", UnixNanos(a.StartTimeUtc + a.Duration));
        WriteAttributes(w, a.TagObjects);
        if (a.Events.Any())
        {
            w.WriteStartArray("events");
            foreach (var e in a.Events)
            {
                w.WriteStartObject();
                w.WriteString("timeUnixNano", UnixNanos(e.Timestamp.UtcDateTime));
                w.WriteString("name", e.Name);
                WriteAttributes(w, e.Tags);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        if (a.Links.Any())
        {
            w.WriteStartArray("links");
            foreach (var link in a.Links)
            {
                w.WriteStartObject();
                w.WriteString("traceId", link.Context.TraceId.ToHexString());
                w.WriteString("spanId", link.Context.SpanId.ToHexString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteStartObject("status");
        // STATUS_CODE_UNSET = 0, OK = 1, ERROR = 2, as ActivityStatusCode.
        if (a.Status != ActivityStatusCode.Unset) w.WriteNumber("code", (int)a.Status);
        if (a.StatusDescription is { } description) w.WriteString("message", description);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteMetric(Utf8JsonWriter w, Metric m)
    {
        w.WriteStartObject();
        w.WriteString("name", m.Name);
        w.WriteString("unit", m.Unit ?? "");
        w.WriteString("description", m.Description ?? "");
        // AGGREGATION_TEMPORALITY_DELTA = 1, CUMULATIVE = 2.
        var temporality = m.Temporality == AggregationTemporality.Delta ? 1 : 2;
        switch (m.MetricType)
        {
            case MetricType.LongSum or MetricType.DoubleSum or MetricType.LongSumNonMonotonic or MetricType.DoubleSumNonMonotonic:
                w.WriteStartObject("sum");
                WritePoints(w, m, WriteNumberPoint);
                w.WriteNumber("aggregationTemporality", temporality);
                w.WriteBoolean("isMonotonic", m.MetricType is MetricType.LongSum or MetricType.DoubleSum);
                w.WriteEndObject();
                break;
            case MetricType.LongGauge or MetricType.DoubleGauge:
                w.WriteStartObject("gauge");
                WritePoints(w, m, WriteNumberPoint);
                w.WriteEndObject();
                break;
            case MetricType.Histogram:
                w.WriteStartObject("histogram");
                WritePoints(w, m, WriteHistogramPoint);
                w.WriteNumber("aggregationTemporality", temporality);
                w.WriteEndObject();
                break;
            default:
                throw new NotSupportedException($"metric {m.Name}: {m.MetricType} has no OTLP-JSON writer here");
        }
        w.WriteEndObject();
    }

    private delegate void PointWriter(Utf8JsonWriter w, Metric m, in MetricPoint p);

    private static void WritePoints(Utf8JsonWriter w, Metric m, PointWriter write)
    {
        w.WriteStartArray("dataPoints");
        foreach (ref readonly var p in m.GetMetricPoints())
        {
            w.WriteStartObject();
            w.WriteStartArray("attributes");
            foreach (var tag in p.Tags) WriteKeyValue(w, tag.Key, tag.Value);
            w.WriteEndArray();
            w.WriteString("startTimeUnixNano", UnixNanos(p.StartTime.UtcDateTime));
            w.WriteString("timeUnixNano", UnixNanos(p.EndTime.UtcDateTime));
            write(w, m, p);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteNumberPoint(Utf8JsonWriter w, Metric m, in MetricPoint p)
    {
        switch (m.MetricType)
        {
            case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                w.WriteString("asInt", p.GetSumLong().ToString(CultureInfo.InvariantCulture));
                break;
            case MetricType.LongGauge:
                w.WriteString("asInt", p.GetGaugeLastValueLong().ToString(CultureInfo.InvariantCulture));
                break;
            case MetricType.DoubleGauge:
                w.WriteNumber("asDouble", p.GetGaugeLastValueDouble());
                break;
            default:
                w.WriteNumber("asDouble", p.GetSumDouble());
                break;
        }
    }

    private static void WriteHistogramPoint(Utf8JsonWriter w, Metric m, in MetricPoint p)
    {
        w.WriteString("count", p.GetHistogramCount().ToString(CultureInfo.InvariantCulture));
        w.WriteNumber("sum", p.GetHistogramSum());
        var counts = new List<long>();
        var bounds = new List<double>();
        foreach (var bucket in p.GetHistogramBuckets())
        {
            counts.Add(bucket.BucketCount);
            if (!double.IsPositiveInfinity(bucket.ExplicitBound)) bounds.Add(bucket.ExplicitBound);
        }
        w.WriteStartArray("bucketCounts");
        foreach (var c in counts) w.WriteStringValue(c.ToString(CultureInfo.InvariantCulture));
        w.WriteEndArray();
        w.WriteStartArray("explicitBounds");
        foreach (var b in bounds) w.WriteNumberValue(b);
        w.WriteEndArray();
        if (p.TryGetHistogramMinMaxValues(out var min, out var max))
        {
            w.WriteNumber("min", min);
            w.WriteNumber("max", max);
        }
    }

    private static void WriteAttributes(Utf8JsonWriter w, IEnumerable<KeyValuePair<string, object?>> attributes)
    {
        w.WriteStartArray("attributes");
        foreach (var (key, value) in attributes) WriteKeyValue(w, key, value);
        w.WriteEndArray();
    }

    private static void WriteKeyValue(Utf8JsonWriter w, string key, object? value)
    {
        w.WriteStartObject();
        w.WriteString("key", key);
        w.WritePropertyName("value");
        WriteAnyValue(w, value);
        w.WriteEndObject();
    }

    private static void WriteAnyValue(Utf8JsonWriter w, object? value)
    {
        w.WriteStartObject();
        switch (value)
        {
            case bool b: w.WriteBoolean("boolValue", b); break;
            case int or long or short or byte or uint:
                w.WriteString("intValue", Convert.ToInt64(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture));
                break;
            case double or float: w.WriteNumber("doubleValue", Convert.ToDouble(value, CultureInfo.InvariantCulture)); break;
            case string[] or int[] or long[] or double[] or bool[]:
                w.WriteStartObject("arrayValue");
                w.WriteStartArray("values");
                foreach (var item in (System.Collections.IEnumerable)value) WriteAnyValue(w, item);
                w.WriteEndArray();
                w.WriteEndObject();
                break;
            default: w.WriteString("stringValue", Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""); break;
        }
        w.WriteEndObject();
    }

    private static string UnixNanos(DateTime utc) =>
        ((utc.Ticks - DateTime.UnixEpoch.Ticks) * TimeSpan.NanosecondsPerTick).ToString(CultureInfo.InvariantCulture);
}
