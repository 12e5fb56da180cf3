// XenOrchestra's own xen-api client (npm xen-api, pinned in
// tests/functional/xo/package.json) as a benchmark peer: the same pool
// operations as the driver's, done the way XenOrchestra does them, timed here.
//
// Run by tools/benchlib/xo_peer.py (cwd: the repository root):
//   node tools/benchlib/xo_peer.mjs CONFIG
// CONFIG (argv[2], JSON): {user, transport, stepTimeoutMs, timeScale}. No
// secret on the command line: the first stdin line is {"password": ...}.
// Then one JSON command per stdin line, one JSON reply per command on stdout:
// {"ok": true, ...} or {"ok": false, "step": ..., "error": ..., "code": ...,
// "params": [...]} (XO's error). Nothing else is written on stdout (the
// client's console output goes to stderr). Every step is bounded by
// stepTimeoutMs (an error naming the step). Commands:
//   {"cmd": "connect", "url": U}  a client for U, its cache fetched (untimed)
//   {"cmd": "add", "joiner": U1, "master": U2, "masterAddress": A}
//       callAsync pool.join on the joiner until the master's cache shows the
//       joiner enabled and live -> {seconds}; then the joiner's client goes
//   {"cmd": "remove", "master": U, "hostUuid": H}
//       callAsync pool.eject on the master -> {seconds}
//   {"cmd": "remove_master", "master": U, "newMasterUuid": N, "hostUuid": H,
//    "newMasterUrl": U2}
//       call pool.designate_new_master, the client follows the new master,
//       the old master enabled and live there, callAsync pool.eject of it
//       -> {seconds, phases: [designate, follow, live, eject], followedTo};
//       the client is then the one for U2
//   {"cmd": "disconnect_all"} (or the end of stdin): disconnect, exit 0
// A URL names the client connect() made for it, or a connected client now
// talking to that host.
//
// timeScale multiplies the client's own real-time waits (its event debounce,
// the pause after an event.from error, the pause before it retries a login
// that met HOST_IS_SLAVE or a session that met SESSION_INVALID) as the bench
// scales the driver's: the lab runs 1/timeScale times faster than xapi, and
// a client keeping its real-second pauses would be blamed for the scale.
// 1 is XenOrchestra as shipped.

import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'

const XEN_API = new URL('../../tests/functional/xo/node_modules/xen-api/index.mjs',
  import.meta.url)
const { createClient } = await import(XEN_API.href)

// NOTE: stdout carries the replies only.
console.log = console.info = console.debug = console.error

const cfg = JSON.parse(process.argv[2] ?? '{}')
const STEP_TIMEOUT_MS = cfg.stepTimeoutMs ?? 30000
const SCALE = cfg.timeScale ?? 1
// xen-api's defaults (index.mjs; promise-toolbox's pRetry waits 1 s by default)
const DEBOUNCE_MS = 200
const EVENT_POLL_DELAY_MS = 60 * 1e3
const RETRY_DELAY_MS = 1e3

let password
const clients = new Map() // URL given to connect -> client

class StepError extends Error {
  constructor(step, message, code, params) {
    super(message)
    this.step = step
    this.code = code
    this.params = params
  }
}

function makeClient(url) {
  const xapi = createClient({
    url,
    auth: { user: cfg.user, password },
    transport: cfg.transport ?? 'json-rpc',
    allowUnauthorized: false,
    debounce: DEBOUNCE_MS * SCALE,
    eventPollDelay: EVENT_POLL_DELAY_MS * SCALE,
    roCallRetryOptions: { delay: RETRY_DELAY_MS * SCALE },
  })
  // NOTE: these two retry settings are not options of the client; the delay
  // is pRetry's default one, scaled as the others.
  const delay = RETRY_DELAY_MS * SCALE
  xapi._sessionOpenRetryOptions = { ...xapi._sessionOpenRetryOptions, delay }
  xapi._sessionCallRetryOptions = { ...xapi._sessionCallRetryOptions, delay }
  return xapi
}

// Runs body(resolve, reject, onCleanup) bounded by the step timeout; a
// timeout is an error naming the step.
function bounded(step, body) {
  const cleanups = []
  let timer
  return new Promise((resolve, reject) => {
    timer = setTimeout(
      () => reject(
        new StepError(step, `no answer after ${STEP_TIMEOUT_MS} ms`, 'STEP_TIMEOUT', [])),
      STEP_TIMEOUT_MS
    )
    Promise.resolve()
      .then(() => body(resolve, reject, fn => cleanups.push(fn)))
      .catch(reject)
  })
    .catch(error => {
      if (error instanceof StepError) throw error
      throw new StepError(step, String(error?.message ?? error), error?.code, error?.params)
    })
    .finally(() => {
      clearTimeout(timer)
      for (const fn of cleanups) fn()
    })
}

function within(step, promiseFn) {
  return bounded(step, resolve => Promise.resolve(promiseFn()).then(resolve))
}

const CACHE_EVENTS = ['add', 'update', 'remove']

// Resolves with check()'s first truthy value, re-checked on every change of
// the client's object cache.
function waitFor(step, xapi, check) {
  return bounded(step, (resolve, reject, onCleanup) => {
    const probe = () => {
      let value
      try {
        value = check()
      } catch (error) {
        reject(error)
        return
      }
      if (value) resolve(value)
    }
    for (const event of CACHE_EVENTS) xapi.objects.on(event, probe)
    onCleanup(() => {
      for (const event of CACHE_EVENTS) xapi.objects.removeListener(event, probe)
    })
    probe()
  })
}

function hostByUuid(xapi, uuid) {
  const host = xapi.getObjectByUuid(uuid, undefined)
  return host?.$type === 'host' ? host : undefined
}

// The host, once the cache shows it enabled and its host_metrics live.
function hostUp(xapi, uuid) {
  const host = hostByUuid(xapi, uuid)
  if (host === undefined || host.enabled !== true) return undefined
  const metrics = xapi.getObjectByRef(host.metrics, undefined)
  return metrics?.live === true ? host : undefined
}

function endpoint(url) {
  const u = new URL(url)
  return `${u.hostname}:${u.port}`
}

// The client connected for `url`: the one connect() made for it, else a
// connected one now talking to that host (a client follows HOST_IS_SLAVE).
function need(url, step) {
  const exact = clients.get(url)
  if (exact !== undefined && exact.status === 'connected') return exact
  const wanted = endpoint(url)
  for (const xapi of clients.values()) {
    const at = `${xapi._url.hostname}:${xapi._url.port}`
    if (xapi.status === 'connected' && at === wanted) return xapi
  }
  throw new StepError(step, `no connected client for ${url} (connect it first)`,
    'NOT_CONNECTED', [])
}

async function connect(url) {
  let xapi = clients.get(url)
  if (xapi === undefined) {
    xapi = makeClient(url)
    clients.set(url, xapi)
  }
  await within('connect', () => xapi.connect())
  await within('objectsFetched', () => xapi.objectsFetched)
  return { connectedTo: xapi._url.hostname }
}

async function forget(url, xapi) {
  if (clients.get(url) === xapi) clients.delete(url)
  await xapi.disconnect()
}

async function add({ joiner: joinerUrl, master: masterUrl, masterAddress }) {
  const joiner = need(joinerUrl, 'add')
  const master = need(masterUrl, 'add')
  // the joiner is standalone: its pool's master is itself
  const uuid = joiner.getObjectByRef(joiner.pool.master).uuid
  const t0 = performance.now()
  await within('callAsync pool.join',
    () => joiner.callAsync('pool.join', masterAddress, cfg.user, password))
  await waitFor('watch joined host enabled and live', master, () => hostUp(master, uuid))
  const seconds = (performance.now() - t0) / 1e3
  // untimed: the joiner is a slave now, the master's client manages it
  await forget(joinerUrl, joiner)
  return { seconds }
}

async function remove({ master: masterUrl, hostUuid }) {
  const master = need(masterUrl, 'remove')
  const host = hostByUuid(master, hostUuid)
  if (host === undefined) {
    throw new StepError('remove', `host ${hostUuid} not in the cache`, 'NO_SUCH_HOST', [])
  }
  const t0 = performance.now()
  await within('callAsync pool.eject', () => master.callAsync('pool.eject', host.$ref))
  return { seconds: (performance.now() - t0) / 1e3 }
}

// After designate_new_master every member's xapi restarts: the client's
// event.from fails, then its session is invalid; it logs in again on the
// URL it has, meets HOST_IS_SLAVE naming the new master and moves there
// (xen-api's _sessionOpen), then refetches its cache. Resolves once that
// has happened: the client's URL is the new master's and its cache, fetched
// from there, names it pool master.
function followed(xapi, newMaster) {
  return (
    xapi.status === 'connected' &&
    xapi._url.hostname === newMaster.address &&
    xapi.pool?.master === newMaster.$ref
  )
}

async function removeMaster({ master: masterUrl, newMasterUuid, hostUuid, newMasterUrl }) {
  const xapi = need(masterUrl, 'remove_master')
  const newMaster = hostByUuid(xapi, newMasterUuid)
  if (newMaster === undefined || hostByUuid(xapi, hostUuid) === undefined) {
    throw new StepError('remove_master', 'new master or old master not in the cache',
      'NO_SUCH_HOST', [])
  }
  let resolveFollowed
  const pFollowed = new Promise(resolve => {
    resolveFollowed = resolve
  })
  // NOTE: 'sessionId' is emitted by _sessionOpen once logged in (after any
  // HOST_IS_SLAVE hop); the event loop's new objectsFetched promise is in
  // place by then (made at the top of its main loop).
  const onSession = () => {
    xapi.objectsFetched.then(() => {
      if (followed(xapi, newMaster)) resolveFollowed()
    })
  }
  xapi.on('sessionId', onSession)
  try {
    const marks = []
    const mark = () => marks.push(performance.now())
    // NOTE: xo-server's setPoolMaster is xapi.call('pool.designate_new_master',
    // host.$ref): a synchronous call (xapi answers once the new master is
    // chosen; the restarts follow), so `call`, not `callAsync`.
    const t0 = performance.now()
    await within('call pool.designate_new_master',
      () => xapi.call('pool.designate_new_master', newMaster.$ref))
    mark()
    // the client follows the new master by itself (see followed())
    await within('follow the new master', () => pFollowed)
    mark()
    // xapi refuses to eject a host that is not live
    const host = await waitFor('watch old master enabled and live', xapi,
      () => hostUp(xapi, hostUuid))
    mark()
    await within('callAsync pool.eject', () => xapi.callAsync('pool.eject', host.$ref))
    mark()
    const seconds = (marks[3] - t0) / 1e3
    // what each phase took: designate, follow, old master live, eject
    const phases = marks.map((at, i) => (at - (i === 0 ? t0 : marks[i - 1])) / 1e3)
    // untimed: the client now manages the new master's pool
    for (const [url, client] of clients) if (client === xapi) clients.delete(url)
    if (newMasterUrl !== undefined) {
      const previous = clients.get(newMasterUrl)
      if (previous !== undefined && previous !== xapi) await previous.disconnect()
      clients.set(newMasterUrl, xapi)
    }
    return { seconds, phases, followedTo: xapi._url.hostname }
  } finally {
    xapi.removeListener('sessionId', onSession)
  }
}

async function disconnectAll() {
  const all = [...clients.values()]
  clients.clear()
  await Promise.all(all.map(xapi => within('disconnect', () => xapi.disconnect()).catch(() => {})))
}

const COMMANDS = {
  connect: cmd => connect(cmd.url),
  add,
  remove,
  remove_master: removeMaster,
  disconnect_all: disconnectAll,
}

function scrub(text) {
  return password ? text.split(password).join('***') : text
}

function reply(object) {
  process.stdout.write(scrub(JSON.stringify(object)) + '\n')
}

async function handle(line) {
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch (error) {
    reply({ ok: false, step: 'parse', error: `not JSON: ${error.message}` })
    return
  }
  const fn = COMMANDS[cmd.cmd]
  if (fn === undefined) {
    reply({ ok: false, step: 'command', error: `unknown command ${JSON.stringify(cmd.cmd)}` })
    return
  }
  try {
    reply({ ok: true, ...(await fn(cmd)) })
    return cmd.cmd
  } catch (error) {
    // NOTE: XO's error only: its `call` slot holds the call's parameters,
    // and Async.pool.join's carry the password (xen-api obfuscates only
    // the synchronous pool.join's).
    reply({
      ok: false,
      step: error?.step ?? cmd.cmd,
      error: String(error?.message ?? error),
      code: error?.code,
      params: Array.isArray(error?.params) ? error.params.map(String) : undefined,
    })
  }
}

async function main() {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
  let first = true
  for await (const line of lines) {
    if (first) {
      first = false
      password = JSON.parse(line).password
      continue
    }
    if (line.trim() === '') continue
    if ((await handle(line)) === 'disconnect_all') break
  }
  await disconnectAll()
  process.exit(0)
}

main().catch(error => {
  process.stderr.write(`xo_peer: ${scrub(String(error?.stack ?? error))}\n`)
  process.exit(1)
})
