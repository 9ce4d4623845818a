import {ExitCode, WpkError} from '../errors.js'

/** The run was stopped by the user (SIGINT, exit 130) or the system (SIGTERM, exit 143). */
export class InterruptedError extends WpkError {
  constructor(signal: 'SIGINT' | 'SIGTERM') {
    super(
      `interrupted by ${signal}: stopped the run and cleaned up`,
      signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated,
    )
  }
}

/**
 * Ctrl-C and SIGTERM handling: the first signal stops the run (running pods get a grace period to
 * end, everything is deleted); a second one forces immediate deletion.
 */
export class Interrupt {
  private readonly controller = new AbortController()
  private signalName: 'SIGINT' | 'SIGTERM' | undefined
  forced = false
  private readonly listeners: (() => void)[] = []

  get signal(): AbortSignal {
    return this.controller.signal
  }

  get error(): InterruptedError | undefined {
    return this.signalName ? new InterruptedError(this.signalName) : undefined
  }

  /** Called for each signal received. */
  receive(name: 'SIGINT' | 'SIGTERM'): void {
    if (this.signalName) {
      this.forced = true
      for (const listener of this.listeners) listener()
      return
    }
    this.signalName = name
    this.controller.abort(new InterruptedError(name))
  }

  onForce(listener: () => void): void {
    this.listeners.push(listener)
  }

  /** Rejects with the InterruptedError once a signal arrives (never resolves otherwise). */
  asPromise(): Promise<never> {
    return new Promise((_, reject) => {
      if (this.signal.aborted) reject(this.signal.reason)
      this.signal.addEventListener('abort', () => reject(this.signal.reason), {once: true})
    })
  }

  /** Installs process signal handlers for the duration of `work`. */
  static async around<T>(work: (interrupt: Interrupt) => Promise<T>): Promise<T> {
    const interrupt = new Interrupt()
    const onInt = () => interrupt.receive('SIGINT')
    const onTerm = () => interrupt.receive('SIGTERM')
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)
    try {
      return await work(interrupt)
    } finally {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
    }
  }
}
