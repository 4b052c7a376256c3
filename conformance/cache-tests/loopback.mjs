// Preloaded into the suite's test server (`node --import ./loopback.mjs`): the server calls
// `listen(port)` with no address, which binds every interface, and the harness must bind
// only 127.0.0.1. This adds the loopback address to a listen call that names a port but no
// host, and changes nothing else in the pinned suite.
import net from 'node:net'

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const port = args[0]
  const isPort = typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port))
  if (isPort && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1')
  return listen.apply(this, args)
}
