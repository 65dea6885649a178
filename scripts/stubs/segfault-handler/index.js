'use strict'
// beamcoder calls registerHandler('crash.log') at load time; doing nothing keeps the working
// directory clean and lets beamcoder load in worker threads.
module.exports = {
  registerHandler() {},
  causeSegfault() {
    throw new Error('segfault-handler stub: causeSegfault is not available')
  },
}
