/** @jest-config-loader ts-node */
/** @jest-config-loader-options {"transpileOnly": true, "compilerOptions": {"module": "CommonJS", "moduleResolution": "Bundler"}} */
import { createDefaultEsmPreset, type JestConfigWithTsJest } from 'ts-jest';

const config: JestConfigWithTsJest = {
  ...createDefaultEsmPreset({ tsconfig: 'tsconfig.json' }),
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  testMatch: ['**/*.test.ts'],
  // The interop suite needs servers from Debian packages: `npm run test:interop`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/__tests__/interop/'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // The examples import the package by name: the sources, as tsconfig.json's paths say, not dist/.
    '^buffered-http-writable$': '<rootDir>/lib/index.ts',
    '^buffered-http-writable/redact$': '<rootDir>/lib/redact.ts',
  },
  collectCoverageFrom: ['lib/**/*.ts', 'cli/**/*.ts'],
  // Checked whenever coverage is collected: `npm test` runs `jest --coverage`,
  // so the 90% gate holds on every run.
  coverageThreshold: { global: { lines: 90, branches: 90 } },
  testTimeout: 60_000,
};

export default config;
