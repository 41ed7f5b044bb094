import {
  type ClientRequest,
  type ClientRequestArgs,
  Agent as HttpAgent,
  type AgentOptions as HttpAgentOptions,
} from 'node:http'
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { TLSSocket } from 'node:tls'
import type { TimerEntry, Timers } from '../../core/ports.ts'
import type { Clock } from '../../internal/clock.ts'
import type { EndpointInfo } from '../../model/endpoint.ts'
import { httpOrigin } from '../http/target.ts'
import type { IdleSockets } from './idle-sockets.ts'

/** What an endpoint agent tells the request whose connection it is opening. */
export interface ConnectWatcher {
  readonly request: ClientRequest
  /** A connection for this request is being opened (its socket is not the request's yet). */
  connecting(socket: Socket, abandon: () => void): void
  /** The connection is established: node:http hands it to the request next. */
  connected(): void
  /**
   * The connection failed before the request had a socket: nothing of the request was written.
   * Returns true when the request takes it from here (`resend` follows, once the agent has let go
   * of it), false to let node:http report the error as it would without keel.
   */
  connectFailed(error: Error): boolean
  /** The request left this agent after `connectFailed`: keel may send it elsewhere now. */
  resend(error: Error): void
}

/** The request's watcher, when a `BalancerAgent` is routing it. */
export type WatcherOf = (req: ClientRequest) => ConnectWatcher | undefined

/** node:http Agent internals it keeps stable across versions (read by its own subclasses in the wild). */
interface AgentInternals {
  totalSocketCount: number
  /** What node:http subtracts from a server's `Keep-Alive: timeout` hint (1000 ms). */
  agentKeepAliveTimeoutBuffer?: number
  removeSocket(socket: Duplex, options: unknown): void
}

/** What every endpoint agent of one `BalancerAgent` shares. */
export interface EndpointAgentContext {
  readonly watcherOf: WatcherOf
  /** Closes free sockets idle past the agent's `timeout`. */
  readonly idle: IdleSockets
  /** The agent's `timeout`: how long a connection may take to open, unless the request sets its own (0: no limit). */
  readonly connectTimeout: number
  readonly clock: Clock
  readonly timers: Timers
}

type Oncreate = (error: Error | null, socket: Duplex) => void
type AgentClass = typeof HttpAgent

/** Connection timed out before it was established: `ETIMEDOUT` from `connect` (keel: `not-sent`). */
function connectTimeout(ms: number): Error {
  return Object.assign(new Error(`connect ETIMEDOUT after ${ms} ms`), { code: 'ETIMEDOUT', syscall: 'connect' })
}

/**
 * An endpoint's agent that hands a new connection to its request only once it is established
 * (TCP connected, TLS handshake done). node:http gives a request its socket at once and reports
 * a connect error on the request; waiting instead means that when the connection fails, the
 * request provably wrote nothing, so keel can send it to another endpoint without the caller
 * seeing anything (the same rule Envoy applies to connect failures, `reset-before-request`).
 *
 * It relies on node:http's documented agent contract: `createConnection(options, callback)` may
 * return nothing and call back later (Node's own HTTPS-proxy tunnel does), and `createSocket`
 * is the one caller of `createConnection`.
 */
function deferringAgent<T extends AgentClass>(Base: T, context: EndpointAgentContext) {
  const { watcherOf, idle, clock, timers } = context
  return class EndpointAgent extends (Base as AgentClass) {
    #opening: ConnectWatcher | undefined

    /** node:http's documented hook for a socket going back to the free list: keel's idle clock starts. */
    override keepSocketAlive(socket: Socket): boolean {
      // Typed `void` in @types/node; node:http's own returns whether the socket may be kept.
      if (!(super.keepSocketAlive(socket) as unknown as boolean)) return false
      idle.freed(socket, (this as unknown as AgentInternals).agentKeepAliveTimeoutBuffer ?? 1000)
      return true
    }

    createSocket(
      req: ClientRequest,
      options: Record<string, unknown>,
      callback: (error: Error | null, socket?: Socket) => void,
    ): void {
      this.#opening = watcherOf(req)
      try {
        // @ts-expect-error createSocket is node:http's (stable, undocumented) Agent method
        super.createSocket(req, options, callback)
      } finally {
        this.#opening = undefined
      }
    }

    override createConnection(args: ClientRequestArgs, oncreate?: Oncreate): Duplex | undefined {
      const options = args as Record<string, unknown>
      const watcher = this.#opening
      this.#opening = undefined
      const socket = (super.createConnection as (o: unknown) => Socket)(options)
      if (watcher === undefined || oncreate === undefined) return socket
      const ready = socket instanceof TLSSocket ? 'secureConnect' : 'connect'
      // The request's own `timeout` covers its connect, as in node:http; else the agent's `timeout`.
      const timeout =
        typeof options.timeout === 'number' && options.timeout > 0 ? options.timeout : context.connectTimeout
      // Counted among the endpoint's sockets while it connects, as node:http counts its own, so
      // `maxSockets` holds; handed to node:http's bookkeeping (`oncreate`) once established.
      const name = options._agentKey as string
      const sockets = this.sockets as Record<string, Duplex[] | undefined>
      const internals = this as unknown as AgentInternals
      ;(sockets[name] ??= []).push(socket)
      internals.totalSocketCount++
      // On keel's clock, one entry in the balancer's timer queue: not a socket timer node:http
      // would keep refreshing for the connection's whole life.
      let timer: TimerEntry | undefined
      const uncount = () => {
        socket.off(ready, onReady)
        socket.off('error', onError)
        if (timer !== undefined) timers.cancel(timer)
        timer = undefined
        const list = sockets[name]
        const index = list?.indexOf(socket) ?? -1
        if (index !== -1) list!.splice(index, 1)
        if (list?.length === 0) delete sockets[name]
        internals.totalSocketCount--
      }
      /** A slot freed: node:http opens a connection for the next queued request, if any. */
      const release = () => {
        socket.destroy()
        internals.removeSocket(socket, options)
      }
      const onReady = () => {
        uncount()
        watcher.connected()
        oncreate(null, socket)
      }
      const onError = (error: Error) => {
        uncount()
        if (!watcher.connectFailed(error)) {
          socket.destroy()
          oncreate(error, socket)
          return
        }
        // A queued request whose turn opened this connection leaves the queue: it goes elsewhere.
        const queue = (this.requests as Record<string, ClientRequest[] | undefined>)[name]
        const index = queue?.indexOf(watcher.request) ?? -1
        if (index !== -1) queue!.splice(index, 1)
        if (queue?.length === 0) delete (this.requests as Record<string, unknown>)[name]
        release()
        watcher.resend(error)
      }
      socket.once(ready, onReady)
      socket.once('error', onError)
      // Without a limit, a connect to a silent address would wait for the kernel (minutes).
      if (timeout > 0) timer = timers.schedule(clock.now() + timeout, () => onError(connectTimeout(timeout)))
      watcher.connecting(socket, () => {
        uncount()
        release()
      })
      return undefined
    }
  }
}

/** Options of the per-endpoint agents: node:https `AgentOptions` (TLS options included). */
export type EndpointAgentOptions = HttpsAgentOptions & HttpAgentOptions

/** Builds per-endpoint agents: node:http for `http:` endpoints, node:https for `https:` ones. */
export class EndpointAgentFactory {
  readonly #Http: AgentClass
  readonly #Https: AgentClass
  readonly #options: EndpointAgentOptions

  constructor(options: EndpointAgentOptions, context: EndpointAgentContext) {
    this.#options = options
    this.#Http = deferringAgent(HttpAgent, context)
    this.#Https = deferringAgent(HttpsAgent as unknown as AgentClass, context)
  }

  create(endpoint: EndpointInfo): HttpAgent {
    if (!httpOrigin(endpoint).startsWith('https:')) return new this.#Http(this.#options)
    const servername = endpoint.servername
    return new this.#Https(servername === undefined ? this.#options : { ...this.#options, servername })
  }
}

/**
 * Closes an endpoint's agent without cutting requests short (an endpoint that finished draining,
 * a `maxConnectionAge` renewal): idle sockets now, busy ones when their response ends — node:http
 * keeps a freed socket only while its agent keeps alive.
 */
export function closeAgent(agent: HttpAgent): void {
  ;(agent as unknown as { keepAlive: boolean }).keepAlive = false
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy()
}
