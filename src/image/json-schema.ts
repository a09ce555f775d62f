/**
 * The JSON schemas Glance publishes under /v2/schemas. The legacy `glance` client builds its
 * request bodies from the image schema and validates every image it receives against it
 * (warlock), so attributes that can be null carry `["null", ...]` types.
 * @module
 */
import { CONTAINER_FORMATS, DISK_FORMATS, MEMBER_STATUSES, VISIBILITIES } from './context.js';

const UUID_PATTERN = '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$';
const nullable = (type: string) => ['null', type];

/** The base attributes, then the well-known extra properties Glance describes (`is_base: false`). */
function imageProperties(): Record<string, unknown> {
  const readOnly = (type: unknown, description: string, extra: Record<string, unknown> = {}) => ({ type, readOnly: true, description, ...extra });
  const extra = (description: string, more: Record<string, unknown> = {}) => ({ type: 'string', is_base: false, description, ...more });
  return {
    id: { type: 'string', pattern: UUID_PATTERN, description: 'An identifier for the image' },
    name: { type: nullable('string'), maxLength: 255, description: 'Descriptive name for the image' },
    status: readOnly('string', 'Status of the image', { enum: ['queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated'] }),
    visibility: { type: 'string', enum: [...VISIBILITIES], description: 'Scope of image accessibility' },
    protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
    os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
    checksum: readOnly(nullable('string'), 'md5 hash of image contents.', { maxLength: 32 }),
    os_hash_algo: readOnly(nullable('string'), 'Algorithm to calculate the os_hash_value', { maxLength: 64 }),
    os_hash_value: readOnly(nullable('string'), 'Hexdigest of the image contents using the algorithm specified by the os_hash_algo', { maxLength: 128 }),
    owner: { type: nullable('string'), maxLength: 255, description: 'Owner of the image' },
    size: readOnly(nullable('integer'), 'Size of image file in bytes'),
    virtual_size: readOnly(nullable('integer'), 'Virtual size of image in bytes'),
    container_format: { type: nullable('string'), enum: [null, ...CONTAINER_FORMATS], description: 'Format of the container' },
    disk_format: { type: nullable('string'), enum: [null, ...DISK_FORMATS], description: 'Format of the disk' },
    created_at: readOnly('string', 'Date and time of image registration'),
    updated_at: readOnly('string', 'Date and time of the last image modification'),
    tags: { type: 'array', items: { type: 'string', maxLength: 255 }, description: 'List of strings related to the image' },
    direct_url: readOnly('string', 'URL to access the image file kept in external store'),
    min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
    min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
    self: readOnly('string', 'An image self url'),
    file: readOnly('string', 'An image file url'),
    stores: readOnly('string', 'Store in which image data resides.  Only present when the operator has enabled multiple stores.'),
    schema: readOnly('string', 'An image schema url'),
    locations: {
      type: 'array', description: 'A set of URLs to access the image file kept in external store',
      items: { type: 'object', required: ['url', 'metadata'], properties: { url: { type: 'string', maxLength: 255 }, metadata: { type: 'object' } } },
    },
    kernel_id: extra('ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.', { type: nullable('string'), pattern: UUID_PATTERN }),
    ramdisk_id: extra('ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.', { type: nullable('string'), pattern: UUID_PATTERN }),
    instance_uuid: extra('Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)'),
    architecture: extra('Operating system architecture'),
    os_distro: extra('Common name of operating system distribution'),
    os_version: extra('Operating system version as specified by the distributor'),
  };
}

const imageLinks = [{ rel: 'self', href: '{self}' }, { rel: 'enclosure', href: '{file}' }, { rel: 'describedby', href: '{schema}' }];

export function imageSchema(): Record<string, unknown> {
  return { name: 'image', properties: imageProperties(), additionalProperties: { type: 'string' }, links: imageLinks };
}

export function imagesSchema(): Record<string, unknown> {
  return {
    name: 'images',
    properties: { images: { type: 'array', items: imageSchema() }, schema: { type: 'string' }, first: { type: 'string' }, next: { type: 'string' } },
    links: [{ rel: 'first', href: '{first}' }, { rel: 'next', href: '{next}' }, { rel: 'describedby', href: '{schema}' }],
  };
}

export function memberSchema(): Record<string, unknown> {
  return {
    name: 'member',
    properties: {
      member_id: { type: 'string', description: 'An identifier for the image member (tenantId)' },
      image_id: { type: 'string', pattern: UUID_PATTERN, description: 'An identifier for the image' },
      created_at: { type: 'string', description: 'Date and time of image member creation' },
      updated_at: { type: 'string', description: 'Date and time of last modification of image member' },
      status: { type: 'string', enum: [...MEMBER_STATUSES], description: 'The status of this image member' },
      schema: { type: 'string', readOnly: true },
    },
  };
}

export function membersSchema(): Record<string, unknown> {
  return {
    name: 'members',
    properties: { members: { type: 'array', items: memberSchema() }, schema: { type: 'string' } },
    links: [{ rel: 'describedby', href: '{schema}' }],
  };
}
