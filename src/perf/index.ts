// Perf event buffers: reading what BPF programs send with bpf_perf_event_output.
export { PerfReader, type PerfReaderOptions, type PerfRecord, type PerfSample, type PerfLost, type PerfRecordCallback, type PerfRawCallback } from './reader.js';
export { parseCpuIds, possibleCpuIds } from '../sys/cpus.js';
export { bpfOutputAttr } from '../sys/perf.js';
