#!/usr/bin/env node
// Conformance driver: runs the real @supabase/realtime-js client against the Rust fake
// Realtime server (tests/support/fake_realtime/), started by
// tests/integration/realtime_conformance.rs.
//
// Why: the fake is what the dcd realtime client's end-to-end tests run against, so it
// must behave like the real server as far as the reference client can tell. This script
// subscribes the way dcd does (one channel, one postgres_changes binding, a system
// listener) and prints one JSON line per callback on stdout:
//
//   {"t":ms,"kind":"status","status":"SUBSCRIBED"|"CHANNEL_ERROR"|...,"error":msg|null}
//   {"t":ms,"kind":"change","payload":{...}}       postgres_changes callback payload
//   {"t":ms,"kind":"system","payload":{...}}       system messages
//   {"t":ms,"kind":"heartbeat","status":"sent"|"ok"|"timeout"|...}
//   {"t":ms,"kind":"done"} / {"kind":"timeout"} / {"kind":"fatal","error":...}
//
// Usage: node driver.js <ws-base-url, e.g. ws://127.0.0.1:PORT/realtime/v1> <scenario>
// It exits 0 when the scenario's expectation is met, 1 on its deadline. The Rust test
// drives the fake (pushes changes, flips the script) in between, reading these lines.

'use strict'

const { RealtimeClient } = require('@supabase/realtime-js')
const WebSocket = require('ws')

const UPLOAD_ID = '11111111-2222-3333-4444-555555555555'
const BINDING = { event: '*', schema: 'public', table: 'results', filter: 'org_id=eq.42' }
const DEADLINE_MS = 5000

const [url, scenario] = process.argv.slice(2)
const started = Date.now()
const lines = []

function emit(obj) {
  const line = { t: Date.now() - started, ...obj }
  lines.push(line)
  process.stdout.write(JSON.stringify(line) + '\n')
}

const statuses = () => lines.filter((l) => l.kind === 'status').map((l) => l.status)
const has = (kind) => lines.some((l) => l.kind === kind)
// `want` appears in order (not necessarily contiguous) in the status sequence.
function sequence(...want) {
  let i = 0
  for (const s of statuses()) {
    if (s === want[i]) i++
    if (i === want.length) return true
  }
  return false
}

// When each scenario is satisfied (checked after every callback).
const SCENARIOS = {
  subscribe: () => sequence('SUBSCRIBED') && has('system'),
  'subscribe-v1': () => sequence('SUBSCRIBED') && has('system'),
  change: () => has('change'),
  'change-v1': () => has('change'),
  'join-error': () => sequence('CHANNEL_ERROR', 'SUBSCRIBED'),
  'join-timeout': () => sequence('TIMED_OUT', 'SUBSCRIBED'),
  heartbeat: () => {
    // SUBSCRIBED, CHANNEL_ERROR (heartbeat timeout), SUBSCRIBED again, then a heartbeat
    // answered on the new connection.
    if (!sequence('SUBSCRIBED', 'CHANNEL_ERROR', 'SUBSCRIBED')) return false
    const lastSub = lines.map((l) => l.status).lastIndexOf('SUBSCRIBED')
    return lines.slice(lastSub).some((l) => l.kind === 'heartbeat' && l.status === 'ok')
  },
  'phx-error': () => sequence('SUBSCRIBED', 'CHANNEL_ERROR', 'SUBSCRIBED'),
  'server-close': () => sequence('SUBSCRIBED', 'CHANNEL_ERROR', 'SUBSCRIBED'),
  reject: () => sequence('SUBSCRIBED'),
  mismatch: () => sequence('CLOSED', 'CHANNEL_ERROR'),
  // CLOSED must stick: wait a little to see that no re-join happens.
  expire: () => sequence('SUBSCRIBED', 'CLOSED') && Date.now() - closedAt() > 400,
}

function closedAt() {
  const l = lines.find((l) => l.kind === 'status' && l.status === 'CLOSED')
  return l ? started + l.t : Infinity
}

if (!url || !SCENARIOS[scenario]) {
  process.stderr.write(
    `usage: node driver.js <ws-base-url> <${Object.keys(SCENARIOS).join('|')}>\n`
  )
  process.exit(2)
}

const client = new RealtimeClient(url, {
  params: { apikey: 'test-anon-key' },
  transport: WebSocket,
  vsn: scenario.endsWith('-v1') ? '1.0.0' : '2.0.0',
  heartbeatIntervalMs: 300,
  timeout: 1000,
  reconnectAfterMs: () => 200,
  heartbeatCallback: (status) => {
    emit({ kind: 'heartbeat', status })
    check()
  },
})

let finished = false
function finish(kind, code) {
  if (finished) return
  finished = true
  emit({ kind })
  // Leave the socket closed behind us; exit even if the close handshake stalls.
  setTimeout(() => process.exit(code), 300).unref()
  Promise.resolve()
    .then(() => client.disconnect())
    .catch(() => {})
    .finally(() => setTimeout(() => process.exit(code), 50))
}

function check() {
  if (!finished && SCENARIOS[scenario]()) finish('done', 0)
}

process.on('uncaughtException', (e) => {
  emit({ kind: 'fatal', error: String((e && e.stack) || e) })
  process.exit(3)
})

setTimeout(() => finish('timeout', 1), DEADLINE_MS)
// The expire scenario is satisfied by the passage of time.
setInterval(check, 50).unref()

async function main() {
  await client.setAuth('user-jwt-1')
  const channel = client.channel(`results-cli-${UPLOAD_ID}`)
  channel
    .on('postgres_changes', BINDING, (payload) => {
      emit({ kind: 'change', payload })
      check()
    })
    .on('system', {}, (payload) => {
      emit({ kind: 'system', payload })
      check()
    })
    .subscribe((status, err) => {
      emit({ kind: 'status', status, error: err ? err.message : null })
      check()
    })
}

main().catch((e) => {
  emit({ kind: 'fatal', error: String((e && e.stack) || e) })
  process.exit(3)
})
