-- wrk prints p50/p75/p90/p99 with --latency; the bench wants p95 too.
done = function(summary, latency, requests)
  io.write(string.format("bench: p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
