import net from 'node:net'
import type {Cluster} from '../cluster/cluster.js'
import type {PlannedStep, RunPlan} from '../compile/plan.js'
import {errorMessage, UsageError} from '../errors.js'
import type {Emit} from './events.js'

// `--port-forward SERVICE:PORT[:LOCAL]`: a port of a service (or detached step) reachable on this
// machine for the run's duration, through the API server (pods/portforward over websocket), so it
// needs neither cluster DNS nor a route to the pods.

export interface PortForwardRequest {
  /** The service or detached step, by its name in the pipeline. */
  service: string
  port: number
  /** The local port; 0 picks a free one (the `port-forward` event says which). */
  local: number
  /** The run it belongs to, once the workflow holding the service is known (several workflows). */
  runId?: string
}

const LOCAL_HOST = '127.0.0.1'

/** `web:80`, `web:80:8080`, `db:5432:0` (any free port). */
export function parsePortForward(text: string): PortForwardRequest {
  const m = /^([^:]+):(\d{1,5})(?::(\d{1,5}))?$/.exec(text)
  const port = m ? Number(m[2]) : 0
  const local = m?.[3] === undefined ? port : Number(m[3])
  if (!m || port < 1 || port > 65535 || local > 65535) {
    throw new UsageError(
      `--port-forward ${text}: expected SERVICE:PORT or SERVICE:PORT:LOCAL`,
      'such as --port-forward db:5432 or --port-forward web:80:8080 (LOCAL 0 picks a free port)',
    )
  }
  return {service: m[1], port, local}
}

/** The services and detached steps of a plan a port can be forwarded from, by the names the pipeline uses. */
function forwardable(plan: RunPlan): PlannedStep[] {
  return [...plan.services, ...plan.steps.filter((s) => s.background)]
}

function matches(step: PlannedStep, name: string): boolean {
  return step.name === name || step.host === name
}

/**
 * Assigns each request to the run whose services hold its name; a name no workflow has as a service or
 * detached step, or that several have, is a usage error (before anything is created).
 */
export function assignPortForwards(requests: PortForwardRequest[], plans: RunPlan[]): PortForwardRequest[] {
  return requests.map((request) => {
    const holders = plans.filter((plan) => forwardable(plan).some((s) => matches(s, request.service)))
    const flag = `--port-forward ${request.service}:${request.port}`
    if (holders.length === 0) {
      const names = [...new Set(plans.flatMap((p) => forwardable(p).map((s) => s.host ?? s.name)))]
      throw new UsageError(
        `${flag}: no service or detached step is called ${request.service}`,
        names.length > 0
          ? `services and detached steps: ${names.join(', ')}`
          : 'the pipeline has no service or detached step',
      )
    }
    if (holders.length > 1)
      throw new UsageError(
        `${flag}: ${holders.length} workflows have a service called ${request.service}`,
        'run one workflow (FILE) to forward its service',
      )
    return {...request, runId: holders[0].runId}
  })
}

interface Listener {
  request: PortForwardRequest
  server: net.Server
  address: string
  /** The pod to connect to, once its service is ready; until then connections wait. */
  pod?: string
  waiting: net.Socket[]
}

/**
 * The local listeners of one run. They are bound before anything is created (a port in use stops the
 * run at once), accept connections from then on, and forward them once their service is ready; every
 * connection and listener is closed when the run ends.
 */
export class PortForwards {
  private readonly listeners: Listener[] = []
  private readonly sockets = new Set<net.Socket>()
  private closed = false

  constructor(
    private readonly cluster: Cluster,
    private readonly namespace: string,
    private readonly emit: Emit,
  ) {}

  /** Binds a listener for each request of this plan (by its run id; all when none is assigned). */
  async listen(plan: RunPlan, requests: PortForwardRequest[]): Promise<void> {
    for (const request of requests.filter((r) => r.runId === undefined || r.runId === plan.runId)) {
      if (!forwardable(plan).some((s) => matches(s, request.service))) continue
      const listener: Listener = {
        request,
        server: net.createServer((socket) => this.accept(listener, socket)),
        address: '',
        waiting: [],
      }
      await new Promise<void>((resolve, reject) => {
        listener.server.once('error', (error: NodeJS.ErrnoException) =>
          reject(
            new UsageError(
              `--port-forward ${request.service}:${request.port}: cannot listen on ${LOCAL_HOST}:${request.local}: ${error.code ?? error.message}`,
              error.code === 'EADDRINUSE'
                ? `choose another local port: --port-forward ${request.service}:${request.port}:LOCAL (0 picks a free one)`
                : undefined,
            ),
          ),
        )
        listener.server.listen(request.local, LOCAL_HOST, () => resolve())
      })
      const bound = listener.server.address() as net.AddressInfo
      listener.address = `${LOCAL_HOST}:${bound.port}`
      this.listeners.push(listener)
    }
  }

  /** The service is ready (or running, without a readiness check): its forwards connect to `pod` from now on. */
  attach(step: PlannedStep, pod: string): void {
    for (const listener of this.listeners.filter((l) => matches(step, l.request.service) && !l.pod)) {
      listener.pod = pod
      this.emit({
        type: 'port-forward',
        step: step.name,
        port: listener.request.port,
        address: listener.address,
        url: `http://${listener.address}`,
      })
      for (const socket of listener.waiting.splice(0)) this.connect(listener, step.name, socket)
    }
  }

  private accept(listener: Listener, socket: net.Socket): void {
    if (this.closed) {
      socket.destroy()
      return
    }
    this.sockets.add(socket)
    socket.on('close', () => this.sockets.delete(socket))
    socket.on('error', () => {})
    if (listener.pod) this.connect(listener, listener.request.service, socket)
    else listener.waiting.push(socket)
  }

  private connect(listener: Listener, step: string, socket: net.Socket): void {
    this.cluster.forwardPort(this.namespace, listener.pod!, listener.request.port, socket).catch((error: unknown) => {
      if (this.closed) return
      this.emit({
        type: 'port-forward',
        step,
        port: listener.request.port,
        address: listener.address,
        url: `http://${listener.address}`,
        error: errorMessage(error),
      })
    })
  }

  /** Stops listening and closes every connection (the run is over). */
  close(): void {
    this.closed = true
    for (const listener of this.listeners) listener.server.close()
    for (const socket of this.sockets) socket.destroy()
  }
}
