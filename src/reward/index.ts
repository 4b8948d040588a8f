export { blockMacs, type PlanCost, planMacs, prunerMacs, stemHeadMacs } from './cost.js';
export { agentLoss, pruningReward, type RewardInput, type RewardKind, rewardLabels } from './pruning.js';
