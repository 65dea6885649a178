// vitest globalSetup: every test run gets its own temporary folder, removed when the run ends.
// The tests' work folders (mkdtemp under os.tmpdir()), the ffmpeg and mqa processes they start and
// Chromium's profiles all follow TMPDIR, so a run no longer leaves its files in /tmp (a developer
// running the suite again and again had 1.1 GB of them). MQA_KEEP_TEST_FILES=1 keeps the folder,
// to look at what a failing test wrote; its path is printed.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export default function setup() {
  const root = mkdtempSync(join(tmpdir(), 'mqa-test-run-'))
  process.env.TMPDIR = root
  return () => {
    if (process.env.MQA_KEEP_TEST_FILES) console.log(`test files kept in ${root}`)
    else rmSync(root, { recursive: true, force: true })
  }
}
