/**
 * Image members: the projects a `shared` image is shared with, and their answers. Only the
 * owner adds and removes members; only the member itself accepts or rejects.
 * @module
 */
import type { ImageMemberTable } from './schema.js';
import { MEMBER_STATUSES, glanceError, glanceTime, imageForbidden, invalid } from './context.js';
import type { Caller, ImageDeps } from './context.js';
import { isOwnerOrAdmin, membershipOf, visibleRow } from './images.js';

export type ImageMember = ImageMemberTable;

async function sharedImage(deps: ImageDeps, caller: Caller, imageId: string) {
  const row = await visibleRow(deps, caller, imageId);
  if (row.visibility !== 'shared') throw imageForbidden('Only shared images have members.');
  return row;
}

const memberNotFound = (member: string, imageId: string) => glanceError('ERR_NOT_FOUND', `${member} not found in the member list of the image ${imageId}.`);

/** The owner sees every member; a member sees only its own membership. */
export async function listMembers(deps: ImageDeps, caller: Caller, imageId: string): Promise<ImageMember[]> {
  const row = await sharedImage(deps, caller, imageId);
  let q = deps.db.selectFrom('image_member').selectAll().where('image_id', '=', imageId);
  if (!isOwnerOrAdmin(caller, row)) q = q.where('member', '=', caller.projectId);
  return q.orderBy('created_at').orderBy('member').execute();
}

export async function getMember(deps: ImageDeps, caller: Caller, imageId: string, member: string): Promise<ImageMember> {
  const row = await sharedImage(deps, caller, imageId);
  const found = await membershipOf(deps.db, imageId, member);
  if (!found || (!isOwnerOrAdmin(caller, row) && member !== caller.projectId)) throw memberNotFound(member, imageId);
  return found;
}

export async function addMember(deps: ImageDeps, caller: Caller, imageId: string, body: unknown): Promise<ImageMember> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('Expected a member in the form: {"member": "image_id"}');
  if (!('member' in body)) throw invalid('Member to be added not specified');
  const member = (body as { member: unknown }).member;
  if (member === '' || member === null) throw invalid("Member can't be empty");
  if (typeof member !== 'string' || member.length > 255) throw invalid('Expected a member in the form: {"member": "image_id"}');
  const row = await sharedImage(deps, caller, imageId);
  if (!isOwnerOrAdmin(caller, row)) throw imageForbidden('You are not permitted to create image members for the image.');
  if (await membershipOf(deps.db, imageId, member)) throw glanceError('ERR_CONFLICT', `Member ${member} is duplicated for image ${imageId}`);
  const now = glanceTime(deps.now());
  const record: ImageMember = { image_id: imageId, member, status: 'pending', created_at: now, updated_at: now };
  await deps.db.insertInto('image_member').values(record).execute();
  return record;
}

export async function updateMember(deps: ImageDeps, caller: Caller, imageId: string, member: string, body: unknown): Promise<ImageMember> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('Expected a status in the form: {"status": "status"}');
  if (!('status' in body)) throw invalid('Status not specified');
  const status = (body as { status: unknown }).status;
  if (!MEMBER_STATUSES.includes(status as (typeof MEMBER_STATUSES)[number])) throw invalid(`Incorrect request: Status must be one of ${MEMBER_STATUSES.join(', ')}; got ${JSON.stringify(status)}.`);
  const found = await getMember(deps, caller, imageId, member);
  if (member !== caller.projectId) throw imageForbidden("You are not permitted to modify 'status' on this image member.");
  const updated_at = glanceTime(deps.now());
  await deps.db.updateTable('image_member').set({ status: status as string, updated_at }).where('image_id', '=', imageId).where('member', '=', member).execute();
  return { ...found, status: status as string, updated_at };
}

export async function removeMember(deps: ImageDeps, caller: Caller, imageId: string, member: string): Promise<void> {
  const row = await sharedImage(deps, caller, imageId);
  await getMember(deps, caller, imageId, member);
  if (!isOwnerOrAdmin(caller, row)) throw imageForbidden('You cannot delete image member.');
  await deps.db.deleteFrom('image_member').where('image_id', '=', imageId).where('member', '=', member).execute();
}
