// POST /auth (`docker login` asks the engine to check credentials before the CLI stores them): a ping of the
// registry's /v2/ with them. Nothing is stored by the service: the client keeps its credentials and sends them
// with each pull or push (X-Registry-Auth).
import { isSkiffError } from '../../shared/errors.ts';
import { checkLogin } from '../../shared/registry/repository.ts';
import type { ApiRequest } from './context.ts';
import { ApiError, readJson, rejectUnknownFields, sendJson } from './http-util.ts';
import { pullRegistryOptions } from './images.ts';

const AUTH_FIELDS = new Set(['username', 'password', 'serveraddress', 'email', 'auth', 'identitytoken', 'registrytoken']);

/** POST /auth {username, password, serveraddress}: 200 "Login Succeeded", 401 for credentials the registry refuses. */
export async function authHandler(r: ApiRequest): Promise<void> {
  const b = await readJson(r.req);
  rejectUnknownFields(b, AUTH_FIELDS, 'the auth body');
  if (typeof b.username !== 'string' || typeof b.password !== 'string' || typeof b.serveraddress !== 'string' || b.serveraddress === '') {
    throw new ApiError(400, 'username, password and serveraddress are required');
  }
  const host = b.serveraddress.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const { tlsVerify } = pullRegistryOptions(`${host}/x`, undefined);
  try {
    await checkLogin(host, { username: b.username, password: b.password }, { ...(tlsVerify !== undefined && { tlsVerify }), signal: r.signal });
  } catch (e) {
    if (isSkiffError(e, 'EPERM')) throw new ApiError(401, `login attempt to ${host} failed with status: 401 Unauthorized`);
    throw e;
  }
  sendJson(r.res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
}
