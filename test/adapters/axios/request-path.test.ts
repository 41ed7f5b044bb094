import { describe, expect, it } from 'vitest'
import { RequestPathError, requestPath } from '../../../src/adapters/axios/request-path.ts'
import { parseServiceUrl } from '../../../src/adapters/http/service-url.ts'
import { parseEndpoint } from '../../../src/index.ts'

const SERVICE = parseServiceUrl('http://users.internal/api')

describe('requestPath: what an axios request sends to the endpoint', () => {
  it.each([
    // [baseURL, url, sent]
    [undefined, '/users/42', '/users/42'],
    [undefined, 'users/42?x=1', 'users/42?x=1'],
    [undefined, '?q=1', '?q=1'],
    [undefined, undefined, ''],
    ['/v2', '/users/42', '/v2/users/42'],
    ['/v2/', 'users/42', '/v2/users/42'],
    ['http://users.internal', '/users/42', '/users/42'],
    ['http://users.internal/', 'users//42', '/users//42'],
    ['http://users.internal/api', '/users/42?x=1', '/api/users/42?x=1'],
    ['http://users.internal/api/', '', '/api/'],
    ['http://users.internal/api', undefined, '/api'],
    ['http://users.internal/api', 'http://users.internal/other/1', '/other/1'],
    ['https://users.internal:8443/api', '/u', '/api/u'],
  ])('baseURL %s + url %s → %s', (baseURL, url, sent) => {
    expect(requestPath({ baseURL, url }, undefined)).toBe(sent)
  })

  it('drops the serviceUrl part and keeps what the baseURL adds below it', () => {
    expect(requestPath({ baseURL: 'http://users.internal/api', url: '/u/1' }, SERVICE)).toBe('/u/1')
    expect(requestPath({ baseURL: 'http://users.internal/api/v2', url: '/u/1' }, SERVICE)).toBe('/v2/u/1')
    expect(requestPath({ url: 'http://users.internal/api' }, SERVICE)).toBe('')
    expect(requestPath({ url: 'http://users.internal/api?x=1' }, SERVICE)).toBe('?x=1')
    expect(requestPath({ url: '/u/1' }, SERVICE)).toBe('/u/1')
    expect(requestPath({ baseURL: '/v2', url: 'u/1' }, SERVICE)).toBe('/v2/u/1')
  })

  it('joins an absolute url onto baseURL when allowAbsoluteUrls is false, as axios does', () => {
    const fields = { baseURL: 'http://users.internal/api', url: 'http://elsewhere/x', allowAbsoluteUrls: false }
    expect(requestPath(fields, undefined)).toBe('/api/http://elsewhere/x')
    expect(requestPath({ ...fields, url: 'x' }, undefined)).toBe('/api/x')
  })

  it('refuses absolute URLs off the service, or with no service to be on', () => {
    expect(() => requestPath({ url: 'http://users.internal/u' }, undefined)).toThrow(/set `baseURL`/)
    expect(() => requestPath({ baseURL: 'http://users.internal', url: 'http://other.internal/u' }, undefined)).toThrow(
      /not on the balanced service http:\/\/users\.internal \(`baseURL`\)/,
    )
    expect(() => requestPath({ url: 'http://users.internal/apix/u' }, SERVICE)).toThrow(/\(`serviceUrl`\)/)
    expect(() => requestPath({ url: 'https://users.internal/api/u' }, SERVICE)).toThrow(RequestPathError)
    expect(() => requestPath({ baseURL: 'ftp://files.internal', url: '/x' }, undefined)).toThrow(RequestPathError)
    expect(() => requestPath({ url: 'mailto:ops@users.internal' }, undefined)).toThrow(/not an http: or https: URL/)
    expect(() => requestPath({ url: '//users.internal/u' }, undefined)).toThrow(RequestPathError)
    // Protocol-relative: axios reads `//users/42` as the host `users`.
    expect(() => requestPath({ baseURL: 'http://users.internal', url: '//users/42' }, undefined)).toThrow(
      RequestPathError,
    )
  })

  it('joins onto the endpoint keeping its prefix', () => {
    const endpoint = parseEndpoint('http://10.0.0.1:8080/svc')
    const path = requestPath({ baseURL: 'http://users.internal/api', url: '/users/42?x=1' }, undefined)
    expect(endpoint.resolve(path)).toBe('http://10.0.0.1:8080/svc/api/users/42?x=1')
    expect(endpoint.resolve(requestPath({ url: '?q' }, undefined))).toBe('http://10.0.0.1:8080/svc?q')
    expect(parseEndpoint('http://10.0.0.1:8080').resolve(requestPath({}, undefined))).toBe('http://10.0.0.1:8080/')
  })
})
