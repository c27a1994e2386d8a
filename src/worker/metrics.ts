// The worker's own part of the metrics (docs/OPERATIONS.md, "Metrics"): the Prometheus exporter's
// settings, and the gauge of OAuth connections needing reconnect, fed from the account store. The
// workflow's and the activities' metrics are recorded where they happen, through the same runtime meter.
import type { MetricMeter } from '@temporalio/common';
import { CONNECTIONS_NEEDING_RECONNECT, HISTOGRAM_BUCKETS } from '../action/metrics';

/** The telemetry options of Runtime.install: Prometheus on host:port/metrics, the histograms' buckets. */
export function prometheusTelemetry(bindAddress: string) {
  return { metrics: { prometheus: { bindAddress, histogramBucketOverrides: HISTOGRAM_BUCKETS } } };
}

/** How often the account store is read for the gauge. */
export const CONNECTION_GAUGE_INTERVAL_MS = 30_000;

/**
 * Keeps `hubspot_connections_needing_reconnect{workspace_id}` up to date: reads the count per workspace
 * from the account store at start and every `intervalMs`; a workspace whose connections were reconnected
 * goes back to 0. Every worker replica reports the same values (one database): aggregate with max.
 * A failed read keeps the last values (the store's own errors are the store's alerts).
 */
export function feedReconnectGauge(
  store: { needsReconnectByWorkspace(): Promise<Map<string, number>> },
  meter: MetricMeter,
  intervalMs = CONNECTION_GAUGE_INTERVAL_MS,
): { refresh(): Promise<void>; stop(): void } {
  const gauge = meter.createGauge(
    CONNECTIONS_NEEDING_RECONNECT,
    'int',
    'connections',
    'OAuth connections whose refresh token HubSpot refused: an operator must reconnect them',
  );
  const reported = new Set<string>();
  const refresh = async (): Promise<void> => {
    let counts: Map<string, number>;
    try {
      counts = await store.needsReconnectByWorkspace();
    } catch {
      return;
    }
    for (const workspace of reported) if (!counts.has(workspace)) gauge.set(0, { workspace_id: workspace });
    for (const [workspace, n] of counts) {
      gauge.set(n, { workspace_id: workspace });
      reported.add(workspace);
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return { refresh, stop: () => clearInterval(timer) };
}
