import type { Readable } from 'node:stream'
import axios, { type AxiosError, type AxiosResponse } from 'axios'
import { expect } from 'vitest'
import { axiosAdapter } from '../../helpers/adapters.ts'
import { type AdapterDriver, type Reply, streaming } from './driver.ts'

/**
 * `axiosAdapter` under an axios instance with the default `validateStatus`: a non-2xx response
 * rejects with an AxiosError, whose response is the reply.
 */
export const axiosDriver: AdapterDriver = {
  name: 'axiosAdapter',
  // Longer than the adapter's per-endpoint agents' 5 s idle timeout, as production servers keep it.
  keepAliveTimeout: 10_000,
  client(balancer) {
    const api = axios.create({ baseURL: 'http://users.internal', adapter: axiosAdapter(balancer) })
    const reply = async (pending: Promise<AxiosResponse<string>>): Promise<Reply> => {
      try {
        const res = await pending
        return { status: res.status, body: res.data }
      } catch (error) {
        if ((error as AxiosError).response === undefined) throw error
        expect(axios.isAxiosError(error)).toBe(true)
        const { status, data } = (error as AxiosError<string>).response!
        return { status, body: data }
      }
    }
    return {
      get: (path, options = {}) =>
        reply(api.get<string>(path, options.key === undefined ? {} : { keel: { key: options.key } })),
      send: (method, path, body, headers = {}) =>
        reply(api.request<string>({ method, url: path, data: body, headers })),
      async open(path) {
        const res = await api.get<Readable>(path, { responseType: 'stream' })
        return streaming(res.status, res.data, String)
      },
    }
  },
  expectRefused(error) {
    expect(axios.isAxiosError(error)).toBe(true)
    expect((error as AxiosError).code).toBe('ECONNREFUSED')
  },
  // No expectAttemptTimeout: when keel's attemptTimeout cuts a response stream already handed over,
  // the stream fails with axios' CanceledError (ERR_CANCELED, no cause), the attempt ends
  // `retried: true` and the call starts a second attempt that sends nothing and ends `cancelled`.
}
