// Offsets of the kernel structs src/sys writes and reads, under their names in
// include/uapi/linux/bpf.h: one table per bpf command's part of union bpf_attr and per
// bpf_*_info struct. test/kernel-layout.test.ts checks every table against the running kernel's
// BTF, so a wrong offset fails a test rather than a system call with EINVAL.

/** BPF_MAP_CREATE */
export const MapCreateAttr = {
  map_type: 0,
  key_size: 4,
  value_size: 8,
  max_entries: 12,
  map_flags: 16,
  inner_map_fd: 20,
  numa_node: 24,
  map_name: 28,
  map_ifindex: 44,
  btf_fd: 48,
  btf_key_type_id: 52,
  btf_value_type_id: 56,
  btf_vmlinux_value_type_id: 60,
  map_extra: 64,
  value_type_btf_obj_fd: 72,
  map_token_fd: 76,
} as const;

/** BPF_MAP_*_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_FREEZE */
export const MapElemAttr = { map_fd: 0, key: 8, value: 16, next_key: 16, flags: 24 } as const;

/** BPF_MAP_*_BATCH */
export const MapBatchAttr = { in_batch: 0, out_batch: 8, keys: 16, values: 24, count: 32, map_fd: 36, elem_flags: 40, flags: 48 } as const;

/** BPF_PROG_LOAD */
export const ProgLoadAttr = {
  prog_type: 0,
  insn_cnt: 4,
  insns: 8,
  license: 16,
  log_level: 24,
  log_size: 28,
  log_buf: 32,
  kern_version: 40,
  prog_flags: 44,
  prog_name: 48,
  prog_ifindex: 64,
  expected_attach_type: 68,
  prog_btf_fd: 72,
  func_info_rec_size: 76,
  func_info: 80,
  func_info_cnt: 88,
  line_info_rec_size: 92,
  line_info: 96,
  line_info_cnt: 104,
  attach_btf_id: 108,
  attach_prog_fd: 112,
  attach_btf_obj_fd: 112,
  fd_array: 120,
  log_true_size: 140,
  prog_token_fd: 144,
} as const;

/** BPF_OBJ_PIN, BPF_OBJ_GET */
export const ObjAttr = { pathname: 0, bpf_fd: 8, file_flags: 12 } as const;

/** BPF_PROG_ATTACH, BPF_PROG_DETACH */
export const ProgAttachAttr = {
  target_fd: 0,
  attach_bpf_fd: 4,
  attach_type: 8,
  attach_flags: 12,
  replace_bpf_fd: 16,
  relative_fd: 20,
  expected_revision: 24,
} as const;

/** BPF_PROG_TEST_RUN */
export const TestRunAttr = {
  prog_fd: 0,
  retval: 4,
  data_size_in: 8,
  data_size_out: 12,
  data_in: 16,
  data_out: 24,
  repeat: 32,
  duration: 36,
  ctx_size_in: 40,
  ctx_size_out: 44,
  ctx_in: 48,
  ctx_out: 56,
  flags: 64,
  cpu: 68,
  batch_size: 72,
} as const;

/** BPF_*_GET_NEXT_ID, BPF_*_GET_FD_BY_ID */
export const GetIdAttr = { start_id: 0, prog_id: 0, next_id: 4, open_flags: 8 } as const;

/** BPF_OBJ_GET_INFO_BY_FD */
export const InfoAttr = { bpf_fd: 0, info_len: 4, info: 8 } as const;

/** BPF_PROG_QUERY */
export const QueryAttr = {
  target_fd: 0,
  attach_type: 4,
  query_flags: 8,
  attach_flags: 12,
  prog_ids: 16,
  count: 24,
  prog_attach_flags: 32,
  link_ids: 40,
  link_attach_flags: 48,
  revision: 56,
} as const;

/** BPF_RAW_TRACEPOINT_OPEN */
export const RawTracepointAttr = { name: 0, prog_fd: 8, cookie: 16 } as const;

/** BPF_BTF_LOAD */
export const BtfLoadAttr = {
  btf: 0,
  btf_log_buf: 8,
  btf_size: 16,
  btf_log_size: 20,
  btf_log_level: 24,
  btf_log_true_size: 28,
  btf_flags: 32,
  btf_token_fd: 36,
} as const;

/** BPF_LINK_CREATE: the common head and each hook's tail. */
export const LinkCreateAttr = {
  prog_fd: 0,
  target_fd: 4,
  attach_type: 8,
  flags: 12,
  target_btf_id: 16,
  iter_info: 16,
  iter_info_len: 24,
  perf_event: { bpf_cookie: 16 },
  kprobe_multi: { flags: 16, cnt: 20, syms: 24, addrs: 32, cookies: 40 },
  tracing: { target_btf_id: 16, cookie: 24 },
  netfilter: { pf: 16, hooknum: 20, priority: 24, flags: 28 },
  tcx: { relative_fd: 16, expected_revision: 24 },
} as const;

/** union bpf_iter_link_info: what an iterator link walks, pointed at by link_create's iter_info. */
export const IterLinkInfo = {
  map: { map_fd: 0 },
  cgroup: { order: 0, cgroup_fd: 4 },
  task: { tid: 0, pid: 4, pid_fd: 8 },
} as const;

/** BPF_LINK_UPDATE */
export const LinkUpdateAttr = { link_fd: 0, new_prog_fd: 4, flags: 8, old_prog_fd: 12 } as const;

/** BPF_LINK_DETACH */
export const LinkDetachAttr = { link_fd: 0 } as const;

/** BPF_ENABLE_STATS */
export const EnableStatsAttr = { type: 0 } as const;

/** BPF_ITER_CREATE */
export const IterCreateAttr = { link_fd: 0, flags: 4 } as const;

/** struct bpf_prog_info: the members decoded, and the size asked for. */
export const ProgInfo = {
  type: 0,
  id: 4,
  tag: 8,
  jited_prog_len: 16,
  xlated_prog_len: 20,
  jited_prog_insns: 24,
  xlated_prog_insns: 32,
  load_time: 40,
  created_by_uid: 48,
  nr_map_ids: 52,
  map_ids: 56,
  name: 64,
  ifindex: 80,
  gpl_compatible: 84,
  btf_id: 128,
  nr_func_info: 144,
  nr_line_info: 148,
  run_time_ns: 192,
  run_cnt: 200,
  recursion_misses: 208,
  verified_insns: 216,
  attach_btf_obj_id: 220,
  attach_btf_id: 224,
} as const;

/** struct bpf_map_info */
export const MapInfo = {
  type: 0,
  id: 4,
  key_size: 8,
  value_size: 12,
  max_entries: 16,
  map_flags: 20,
  name: 24,
  ifindex: 40,
  btf_vmlinux_value_type_id: 44,
  btf_id: 64,
  btf_key_type_id: 68,
  btf_value_type_id: 72,
  map_extra: 80,
} as const;

/** struct bpf_btf_info */
export const BtfInfo = { btf: 0, btf_size: 8, id: 12, name: 16, name_len: 24, kernel_btf: 28 } as const;

/** struct bpf_link_info: the head, then one part of a union per link type. */
export const LinkInfo = {
  type: 0,
  id: 4,
  prog_id: 8,
  raw_tracepoint: { tp_name: 16, tp_name_len: 24, cookie: 32 },
  tracing: { attach_type: 16, target_obj_id: 20, target_btf_id: 24, cookie: 32 },
  cgroup: { cgroup_id: 16, attach_type: 24 },
  iter: { target_name: 16, target_name_len: 24, map: { map_id: 28 }, cgroup: { cgroup_id: 32, order: 40 }, task: { tid: 32, pid: 36 } },
  netns: { netns_ino: 16, attach_type: 20 },
  xdp: { ifindex: 16 },
  struct_ops: { map_id: 16 },
  netfilter: { pf: 16, hooknum: 20, priority: 24, flags: 28 },
  kprobe_multi: { count: 24, flags: 28, missed: 32 },
  uprobe_multi: { path: 16, path_size: 48, count: 52, flags: 56, pid: 60 },
  perf_event: {
    type: 16,
    uprobe: { file_name: 24, name_len: 32, offset: 36, cookie: 40 },
    kprobe: { func_name: 24, name_len: 32, offset: 36, addr: 40, missed: 48, cookie: 56 },
    tracepoint: { tp_name: 24, name_len: 32, cookie: 40 },
    event: { config: 24, type: 32, cookie: 40 },
  },
  tcx: { ifindex: 16, attach_type: 20 },
  netkit: { ifindex: 16, attach_type: 20 },
  sockmap: { map_id: 16, attach_type: 20 },
} as const;

/** The sizes of the info structs as this package asks for them (the kernel fills what it knows). */
export const InfoSize = { prog: 232, map: 104, btf: 32, link: 96 } as const;
