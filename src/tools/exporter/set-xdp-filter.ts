// xdp-filter's metrics: packets and bytes by verdict and by rule, read from the pinned state of
// every interface the filter is loaded on, at each scrape (nothing is loaded for it).
import { FilterMaps, loadedInterfaces } from '../xdp-filter/state.js';
import type { MetricProvider } from './exporter.js';
import type { MetricData, Sample } from './metrics.js';

const P = 'tsbpf_xdp_filter_';

export function xdpFilterSet(): MetricProvider {
  return {
    collect(): MetricData[] {
      const packets: Sample[] = [];
      const bytes: Sample[] = [];
      const rulePackets: Sample[] = [];
      const ruleBytes: Sample[] = [];
      const policy: Sample[] = [];
      for (const iface of loadedInterfaces()) {
        let maps: FilterMaps;
        try {
          maps = FilterMaps.open(iface);
        } catch {
          continue; // Unloaded since it was listed.
        }
        try {
          const s = maps.stats();
          const c = maps.config();
          policy.push({ labels: { interface: iface, policy: c.policy }, value: 1 });
          for (const [verdict, n] of [['passed', s.passed], ['dropped', s.dropped], ['invalid', s.invalid]] as const) packets.push({ labels: { interface: iface, verdict }, value: n });
          for (const [verdict, n] of [['passed', s.bytesPassed], ['dropped', s.bytesDropped]] as const) bytes.push({ labels: { interface: iface, verdict }, value: n });
          for (const r of maps.rules()) {
            const labels = { interface: iface, rule: r.rule, kind: r.kind, direction: r.direction };
            rulePackets.push({ labels, value: r.hits });
            ruleBytes.push({ labels, value: r.bytes });
          }
        } finally {
          maps.close();
        }
      }
      return [
        { name: `${P}packets_total`, help: 'Packets seen by xdp-filter, by interface and verdict', type: 'counter', values: packets },
        { name: `${P}bytes_total`, help: 'Bytes seen by xdp-filter, by interface and verdict', type: 'counter', values: bytes },
        { name: `${P}rule_packets_total`, help: 'Packets that matched each xdp-filter rule', type: 'counter', values: rulePackets },
        { name: `${P}rule_bytes_total`, help: 'Bytes of the packets that matched each xdp-filter rule', type: 'counter', values: ruleBytes },
        { name: `${P}policy`, help: 'The policy of xdp-filter on each interface it is loaded on', type: 'gauge', values: policy },
      ];
    },
    close() {},
  };
}
