import { EmulatorTarget } from './emulator-target.js';
import { targetContract } from '../contracts/target-contract.js';

// The same suite as QemuTarget's (oracle/qemu/qemu-target.int.spec.ts), on the emulator.
const emulator = new EmulatorTarget();
targetContract('EmulatorTarget', () => emulator);
