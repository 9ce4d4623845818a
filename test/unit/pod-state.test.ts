import type {V1Pod} from '@kubernetes/client-node'
import {describe, expect, it} from 'vitest'
import {podState} from '../../src/cluster/pod-state.js'

const pod = (status: V1Pod['status'], deleting = false): V1Pod => ({
  metadata: {name: 'p', ...(deleting ? {deletionTimestamp: new Date()} : {})},
  status,
})
const running = {
  phase: 'Running',
  podIP: '10.0.0.5',
  containerStatuses: [{name: 'step', image: 'x', imageID: '', ready: true, restartCount: 0, state: {running: {}}}],
}

describe('podState', () => {
  const cases: [string, V1Pod, Record<string, unknown>][] = [
    ['a pod not yet scheduled', pod({phase: 'Pending'}), {kind: 'pending'}],
    ['a running container', pod(running), {kind: 'running', ip: '10.0.0.5'}],
    [
      'an exited container',
      pod({
        phase: 'Failed',
        containerStatuses: [
          {...running.containerStatuses[0], state: {terminated: {exitCode: 137, reason: 'OOMKilled'}}},
        ],
      }),
      {kind: 'terminated', exitCode: 137, reason: 'OOMKilled'},
    ],
    [
      'an image that cannot be pulled',
      pod({
        phase: 'Pending',
        containerStatuses: [
          {...running.containerStatuses[0], state: {waiting: {reason: 'InvalidImageName', message: 'bad'}}},
        ],
      }),
      {kind: 'stuck', reason: 'InvalidImageName'},
    ],
    [
      'no node fits',
      pod({
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/1 nodes are available: 1 Insufficient cpu.',
          },
        ],
      }),
      {kind: 'stuck', reason: 'Unschedulable'},
    ],
    [
      'waiting for the claim to bind is not a scheduling failure',
      pod({
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: 'pod has unbound immediate PersistentVolumeClaims',
          },
        ],
      }),
      {kind: 'pending'},
    ],
    [
      'evicted by the node',
      pod({phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.'}),
      {kind: 'lost', reason: 'Evicted'},
    ],
    [
      'a running pod someone deletes or evicts',
      pod(running, true),
      {kind: 'lost', reason: 'Deleted', message: expect.stringMatching(/being deleted by someone else/)},
    ],
    [
      'an exited pod that is being deleted keeps its exit code',
      pod(
        {
          phase: 'Succeeded',
          containerStatuses: [{...running.containerStatuses[0], state: {terminated: {exitCode: 0}}}],
        },
        true,
      ),
      {kind: 'terminated', exitCode: 0},
    ],
  ]
  for (const [what, input, expected] of cases) {
    it(what, () => expect(podState(input)).toMatchObject(expected))
  }
})
