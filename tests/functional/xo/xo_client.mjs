// Drive XenOrchestra's own xen-api client (npm xen-api, pinned in package.json)
// against a xenpool simulator lab; run by test_xo_client.py.
//
// Input: one JSON object in argv[2]:
//   {entryUrl, joinerUrl, masterAddress, user, password, transport, stepTimeoutMs}
// Output: one JSON line on stdout with what the client saw. On a failure
// the line is {"failed": step, "error": <XO's error>} and the exit status 1,
// so the test shows XO's own error text.

import { createClient } from 'xen-api'

const cfg = JSON.parse(process.argv[2])
const seen = { steps: [] }
let step = 'start'

function xoError(error) {
  return {
    message: String(error?.message ?? error),
    code: error?.code,
    params: error?.params,
    call: error?.call?.method,
    name: error?.name,
    stack: String(error?.stack ?? '').split('\n').slice(0, 6).join('\n'),
  }
}

function within(promise, what) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${cfg.stepTimeoutMs} ms`)),
      cfg.stepTimeoutMs)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function run(name, fn) {
  step = name
  const value = await within(fn(), name)
  seen.steps.push(name)
  return value
}

function client(url) {
  return createClient({
    url,
    auth: { user: cfg.user, password: cfg.password },
    transport: cfg.transport,
    allowUnauthorized: false,
    debounce: 50,
  })
}

// Every state a task passed through, as the client's object cache shows it.
function watchTasks(xapi, into) {
  const record = items => {
    for (const object of Object.values(items)) {
      if (object?.$type === 'task') {
        ;(into[object.$ref] ??= []).push([object.status, object.progress])
      }
    }
  }
  xapi.objects.on('add', record)
  xapi.objects.on('update', record)
}

// Resolves with the first cached object for which predicate() holds.
function waitObject(xapi, predicate) {
  for (const object of Object.values(xapi.objects.all)) {
    if (predicate(object)) return Promise.resolve(object)
  }
  return new Promise(resolve => {
    const check = items => {
      for (const object of Object.values(items)) {
        if (object !== undefined && predicate(object)) {
          xapi.objects.removeListener('add', check)
          xapi.objects.removeListener('update', check)
          resolve(object)
          return
        }
      }
    }
    xapi.objects.on('add', check)
    xapi.objects.on('update', check)
  })
}

function waitRemoved(xapi, id) {
  if (xapi.objects.all[id] === undefined) return Promise.resolve()
  return new Promise(resolve => {
    const check = items => {
      if (id in items) {
        xapi.objects.removeListener('remove', check)
        resolve()
      }
    }
    xapi.objects.on('remove', check)
  })
}

function countByType(xapi) {
  const counts = {}
  for (const object of Object.values(xapi.objects.all)) {
    counts[object.$type] = (counts[object.$type] ?? 0) + 1
  }
  return counts
}

async function main() {
  const xapi = client(cfg.entryUrl)
  const tasks = {}
  watchTasks(xapi, tasks)

  await run('connect', () => xapi.connect())
  seen.connectedTo = xapi._url.hostname
  seen.status = xapi.status
  seen.poolRef = xapi.pool.$ref

  await run('objectsFetched', () => xapi.objectsFetched)
  seen.types = [...xapi._types].sort()
  seen.counts = countByType(xapi)
  const masterHost = xapi.getObjectByRef(xapi.pool.master)
  seen.masterAddress = masterHost.address
  seen.hostsBefore = Object.values(xapi.objects.all).filter(o => o.$type === 'host').length

  // pool.join runs on the joiner: a second client, on the standalone host.
  const joiner = client(cfg.joinerUrl)
  const joinerTasks = {}
  watchTasks(joiner, joinerTasks)
  await run('joinerConnect', () => joiner.connect())
  await run('joinerObjectsFetched', () => joiner.objectsFetched)
  const joinerUuid = joiner.getObjectByRef(joiner.pool.master).uuid
  seen.joinResult = await run('callAsync pool.join', () =>
    joiner.callAsync('pool.join', cfg.masterAddress, cfg.user, cfg.password))
  seen.joinTask = Object.values(joinerTasks).find(states => states.length > 0) ?? []
  await joiner.disconnect()

  // The watched change: the joiner appears in the pool and comes up enabled.
  const joined = await run('watch joined host enabled', () =>
    waitObject(xapi, o => o.$type === 'host' && o.uuid === joinerUuid && o.enabled === true))
  seen.joinedHost = { uuid: joined.uuid, address: joined.address, enabled: joined.enabled }

  const before = new Set(Object.keys(tasks))
  seen.ejectResult = await run('callAsync pool.eject', () =>
    xapi.callAsync('pool.eject', joined.$ref))
  const ejectRef = Object.keys(tasks).find(ref => !before.has(ref))
  seen.ejectTask = tasks[ejectRef] ?? []
  await run('watch ejected host removed', () => waitRemoved(xapi, joined.$id))

  await run('disconnect', () => xapi.disconnect())
  seen.statusAfter = xapi.status
}

main().then(
  () => {
    process.stdout.write(JSON.stringify(seen) + '\n')
    process.exit(0)
  },
  error => {
    process.stdout.write(JSON.stringify({ ...seen, failed: step, error: xoError(error) }) + '\n')
    process.exit(1)
  }
)
