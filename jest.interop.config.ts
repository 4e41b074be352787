/** @jest-config-loader ts-node */
/** @jest-config-loader-options {"transpileOnly": true, "compilerOptions": {"module": "CommonJS", "moduleResolution": "Bundler"}} */
// The interop suite (`npm run test:interop`): real servers from Debian packages
// (nginx, HAProxy, Caddy, Apache, squid, nghttpd) started by the tests. No
// coverage gate: it checks behaviour behind those servers, not lines.
import { createDefaultEsmPreset, type JestConfigWithTsJest } from 'ts-jest';

const config: JestConfigWithTsJest = {
  ...createDefaultEsmPreset({ tsconfig: 'tsconfig.json' }),
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__/interop'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 120_000,
};

export default config;
