export { type PlanCost, blockMacs, planMacs, prunerMacs, stemHeadMacs } from './cost.js';
export { agentLoss, pruningReward, type RewardInput, type RewardKind, rewardLabels } from './pruning.js';
