import { describe, expect, it } from 'vitest'
import { parseEndpoint } from '../src/index.ts'

describe('parseEndpoint', () => {
  const valid: [string, Record<string, unknown>][] = [
    ['http://10.0.0.1:8080', { protocol: 'http:', host: '10.0.0.1', port: 8080, path: '', id: 'http://10.0.0.1:8080' }],
    ['http://Users.Internal', { host: 'users.internal', port: 80, id: 'http://users.internal:80' }],
    ['https://api.example.com', { protocol: 'https:', port: 443, id: 'https://api.example.com:443' }],
    ['https://api.example.com/v2/', { path: '/v2', id: 'https://api.example.com:443/v2' }],
    ['http://h:81/api/v1///', { path: '/api/v1', id: 'http://h:81/api/v1' }],
    ['http://h:81/', { path: '', id: 'http://h:81' }],
    ['grpc://svc:50051', { protocol: 'grpc:', port: 50051, id: 'grpc://svc:50051' }],
    ['grpcs://svc', { protocol: 'grpcs:', port: 443, id: 'grpcs://svc:443' }],
    ['tcp://db:5432', { protocol: 'tcp:', id: 'tcp://db:5432' }],
    ['h:9000', { protocol: 'tcp:', host: 'h', port: 9000, id: 'tcp://h:9000' }],
    ['127.0.0.1:1', { host: '127.0.0.1', port: 1, id: 'tcp://127.0.0.1:1' }],
    ['[::1]:8080', { host: '::1', port: 8080, authority: '[::1]:8080', id: 'tcp://[::1]:8080' }],
    ['http://[2001:DB8::1]:80/x', { host: '2001:db8::1', path: '/x', origin: 'http://[2001:db8::1]:80' }],
    ['HTTP://H:65535', { protocol: 'http:', host: 'h', port: 65535 }],
    ['http://my_service.ns.svc.cluster.local.:8080', { host: 'my_service.ns.svc.cluster.local' }],
  ]
  it.each(valid)('parses %s', (input, fields) => {
    expect(parseEndpoint(input)).toMatchObject(fields)
  })

  const invalid: [unknown, RegExp][] = [
    ['', /empty/],
    ['http//bad', /a path needs a scheme/],
    ['http:/bad', /expected "scheme:\/\/host:port"/],
    ['ftp://h:21', /unsupported protocol "ftp:"/],
    ['http://h:0', /port "0" is not an integer from 1 to 65535/],
    ['http://h:65536', /port "65536"/],
    ['http://h:8x', /port "8x"/],
    ['h', /port is missing/],
    ['h:', /port is missing/],
    ['::1', /needs brackets/],
    ['http://::1:80', /needs brackets/],
    ['[::1', /closing "\]"/],
    ['[zz::1]:80', /not a valid IPv6/],
    ['http://user:pw@h:80', /credentials/],
    ['http://h:80/x?y=1', /query or fragment/],
    ['http://h:80/#frag', /query or fragment/],
    ['http://h :80', /white space/],
    ['http://h\n:80', /white space or control/],
    ['h:80/path', /needs a scheme/],
    ['http://999.1.1.1:80', /not a valid IPv4/],
    ['http://-bad-.com:80', /not a valid host name/],
    ['http://h:80/a b', /white space/],
    [42, /Expected `endpoint` to be an endpoint string or object, got 42/],
    [null, /got null/],
    [{ url: 'http://h:1', host: 'x' }, /either `url` or `host`/],
    [{ host: 'h' }, /`endpoint.port` to be an integer from 1 to 65535, got undefined/],
    [{ url: 'http://h:1', weight: 0 }, /`endpoint.weight` to be an integer from 1 to 65535, got 0/],
    [{ url: 'http://h:1', weight: 1.5 }, /endpoint.weight/],
    [{ url: 'http://h:1', priority: -1 }, /`endpoint.priority` to be a non-negative integer ≤ 1000, got -1/],
    [{ url: 'http://h:1', wieght: 2 }, /Unknown option `endpoint.wieght` \(did you mean `endpoint.weight`\?\)/],
    [{ url: 'http://h:1', metadata: 'x' }, /`endpoint.metadata` to be an object/],
    [{ url: 'http://h:1', servername: 'bad name' }, /not a valid host name/],
  ]
  it.each(invalid)('rejects %j naming the input', (input, message) => {
    expect(() => parseEndpoint(input as string)).toThrow(message)
  })

  it('puts the option name and the input in the message', () => {
    expect(() => parseEndpoint('http://h:99999', { option: 'endpoints[2]' })).toThrow(
      'Expected `endpoints[2]` to be a valid endpoint, got "http://h:99999": port "99999" is not an integer from 1 to 65535',
    )
    try {
      parseEndpoint('nope', { option: 'endpoints[0]' })
    } catch (error) {
      expect(error).toBeInstanceOf(RangeError)
      expect(error).toMatchObject({ code: 'KEEL_INVALID_OPTION', option: 'endpoints[0]' })
    }
  })

  it('accepts the object form with balancing attributes', () => {
    const e = parseEndpoint({
      url: 'http://10.0.0.2:8080/api',
      weight: 3,
      priority: 1,
      zone: 'eu-1a',
      servername: 'users.internal',
      metadata: { version: 'v2' },
    })
    expect(e).toMatchObject({
      id: 'http://10.0.0.2:8080/api',
      weight: 3,
      priority: 1,
      zone: 'eu-1a',
      servername: 'users.internal',
    })
    expect(Object.isFrozen(e.metadata)).toBe(true)
    const parts = parseEndpoint({ host: '[::1]', port: 50051, protocol: 'grpc:', path: '/x/' })
    expect(parts.id).toBe('grpc://[::1]:50051/x')
  })

  it('gives one id to every spelling of an IPv6 address', () => {
    expect(parseEndpoint('[::0:1]:80').id).toBe('tcp://[::1]:80')
    expect(parseEndpoint('http://[2001:DB8:0:0:0:0:0:1]:80').id).toBe('http://[2001:db8::1]:80')
  })

  it('uses the default protocol for a bare host:port and the default servername when none is given', () => {
    expect(parseEndpoint('h:50051', { defaultProtocol: 'grpc:' }).id).toBe('grpc://h:50051')
    expect(parseEndpoint('https://10.0.0.1', { servername: 'api.internal' }).servername).toBe('api.internal')
    expect(parseEndpoint({ url: 'https://10.0.0.1', servername: 'own' }, { servername: 'api' }).servername).toBe('own')
  })
})

describe('endpoint.resolve', () => {
  const withPrefix = parseEndpoint('http://h:8080/api/v2')
  const bare = parseEndpoint('http://h:8080')
  it.each([
    [withPrefix, '/users/42?x=1', 'http://h:8080/api/v2/users/42?x=1'],
    [withPrefix, 'users/42', 'http://h:8080/api/v2/users/42'],
    [withPrefix, '', 'http://h:8080/api/v2'],
    [withPrefix, '?q=1', 'http://h:8080/api/v2?q=1'],
    [withPrefix, '#top', 'http://h:8080/api/v2#top'],
    [bare, '/users/42?x=1', 'http://h:8080/users/42?x=1'],
    [bare, '', 'http://h:8080/'],
    [bare, '?q=1', 'http://h:8080/?q=1'],
    [parseEndpoint('http://[::1]:80/p'), '/x', 'http://[::1]:80/p/x'],
  ])('%s + %j → %s', (endpoint, path, url) => {
    expect(endpoint.resolve(path)).toBe(url)
    expect(new URL(url).href).toBeTypeOf('string')
  })

  it('refuses to join an absolute URL', () => {
    expect(() => withPrefix.resolve('http://evil/x')).toThrow(/relative to the endpoint/)
  })
})
