/**
 * The standard resource classes (os-resource-classes, in its order) and the standard traits
 * Kumo knows (the os-traits names Nova's drivers and Ironic report). Standard names cannot be
 * created or deleted; operators add CUSTOM_* ones.
 * @module
 */
import type { Db } from '../store/database.js';

export const STANDARD_RESOURCE_CLASSES: readonly string[] = [
  'VCPU', 'MEMORY_MB', 'DISK_GB', 'PCI_DEVICE', 'SRIOV_NET_VF', 'NUMA_SOCKET', 'NUMA_CORE', 'NUMA_THREAD', 'NUMA_MEMORY_MB',
  'IPV4_ADDRESS', 'VGPU', 'VGPU_DISPLAY_HEAD', 'NET_BW_EGR_KILOBIT_PER_SEC', 'NET_BW_IGR_KILOBIT_PER_SEC', 'PCPU',
  'MEM_ENCRYPTION_CONTEXT', 'FPGA', 'PGPU', 'NET_PACKET_RATE_KILOPACKET_PER_SEC', 'NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC',
  'NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC',
];

const x86 = ['3DNOW', 'ABM', 'AESNI', 'AVX', 'AVX2', 'AVX512BW', 'AVX512CD', 'AVX512DQ', 'AVX512F', 'AVX512VL', 'BMI', 'BMI2', 'CLMUL',
  'F16C', 'FMA3', 'FMA4', 'MMX', 'MPX', 'SGX', 'SHA', 'SSE', 'SSE2', 'SSE3', 'SSE41', 'SSE42', 'SSE4A', 'SSSE3', 'SVM', 'TBM', 'TSX', 'VMX', 'XOP'];

export const STANDARD_TRAITS: readonly string[] = [
  'COMPUTE_ACCELERATORS', 'COMPUTE_ADDRESS_SPACE_EMULATED', 'COMPUTE_ADDRESS_SPACE_PASSTHROUGH', 'COMPUTE_ARCH_AARCH64', 'COMPUTE_ARCH_X86_64',
  'COMPUTE_DEVICE_TAGGING', 'COMPUTE_EPHEMERAL_ENCRYPTION', 'COMPUTE_FIRMWARE_BIOS', 'COMPUTE_FIRMWARE_UEFI', 'COMPUTE_GRAPHICS_MODEL_VGA',
  'COMPUTE_GRAPHICS_MODEL_VIRTIO', 'COMPUTE_IMAGE_TYPE_ISO', 'COMPUTE_IMAGE_TYPE_QCOW2', 'COMPUTE_IMAGE_TYPE_RAW', 'COMPUTE_NET_ATTACH_INTERFACE',
  'COMPUTE_NET_ATTACH_INTERFACE_WITH_TAG', 'COMPUTE_NET_VIF_MODEL_VIRTIO', 'COMPUTE_NODE', 'COMPUTE_RESCUE_BFV', 'COMPUTE_SAME_HOST_COLD_MIGRATE',
  'COMPUTE_SECURITY_UEFI_SECURE_BOOT', 'COMPUTE_STATUS_DISABLED', 'COMPUTE_STORAGE_BUS_SCSI', 'COMPUTE_STORAGE_BUS_VIRTIO', 'COMPUTE_TRUSTED_CERTS',
  'COMPUTE_VOLUME_ATTACH', 'COMPUTE_VOLUME_ATTACH_WITH_TAG', 'COMPUTE_VOLUME_EXTEND', 'COMPUTE_VOLUME_MULTI_ATTACH',
  'HW_ARCH_AARCH64', 'HW_ARCH_X86_64', 'HW_CPU_HYPERTHREADING', ...x86.map((f) => `HW_CPU_X86_${f}`),
  'HW_GPU_API_VULKAN', 'HW_NIC_SRIOV', 'MISC_SHARES_VIA_AGGREGATE', 'STORAGE_DISK_HDD', 'STORAGE_DISK_SSD',
];

export const isCustomName = (name: string): boolean => /^CUSTOM_[A-Z0-9_]+$/.test(name);

/** The names in `names` that are neither standard nor a row of `table` (the custom ones). */
export async function unknownNames(db: Db, table: 'placement_resource_class' | 'placement_trait', standard: readonly string[], names: Iterable<string>): Promise<string[]> {
  const wanted = [...new Set(names)].filter((n) => !standard.includes(n));
  if (!wanted.length) return [];
  const found = new Set((await db.selectFrom(table).select('name').where('name', 'in', wanted).execute()).map((r) => r.name));
  return wanted.filter((n) => !found.has(n));
}
