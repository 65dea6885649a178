// pnpm 12 does not read `nodedir` from ~/.npmrc, so node-gyp would try to download Node's
// headers (and fail offline) when it builds beamcoder. Point it at the headers Node ships in /usr.
const fs = require('node:fs')

module.exports = {
  hooks: {
    updateConfig(config) {
      if (!process.env.npm_config_nodedir && fs.existsSync('/usr/include/node/node.h')) {
        config.extraEnv = { ...(config.extraEnv ?? {}), npm_config_nodedir: '/usr' }
      }
      return config
    },
  },
}
